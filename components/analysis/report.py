"""The study report: one self-contained HTML page (plotly.js inlined once, PNG-free, no network) with the
summary, the finalists and their tests, the held-out intervals, the importances, the interactive plots,
the spec, the provenance and the cost. Rendered by Jinja2 with autoescaping: every value from the spec,
the data or MLflow is text, never markup."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubetune.components.analysis.plots import Plot


@dataclass
class ReportContent:
    study: str
    headline: list[str]  # the summary's lines, first the held-out comparison
    scores: dict[
        str, float
    ]  # the parent run's metrics worth reading (cv_, test_, intervals, p-values)
    best_params: dict[str, str]
    finalists: dict[str, Any] | None
    importances: dict[str, Any]
    plots: list[Plot]
    skipped_plots: dict[str, str]
    spec_yaml: str
    provenance: dict[str, str]
    cost: dict[str, str]
    links: dict[str, str] = field(default_factory=dict)  # the MLflow run's page, when there is one
    registered_model: str | None = None


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>kubetune study {{ c.study }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; }
th { background: #f5f5f5; } .chosen { background: #eef7ee; font-weight: 600; } .note { color: #666; }
pre { background: #f7f7f7; padding: .8rem; overflow-x: auto; } .headline li { margin: .2rem 0; }
nav a { margin-right: 1rem; }
</style>
<script>{{ plotly_js }}</script>
</head><body>
<h1>Study <code>{{ c.study }}</code></h1>
<nav><a href="#summary">Summary</a><a href="#finalists">Finalists</a><a href="#importances">Importances</a><a href="#plots">Plots</a><a href="#spec">Spec</a><a href="#provenance">Provenance</a><a href="#cost">Cost</a></nav>
<h2 id="summary">Summary</h2>
<ul class="headline">{% for line in c.headline %}<li>{{ line }}</li>{% endfor %}</ul>
<table><tr><th>chosen configuration</th><th>value</th></tr>
{% for k, v in c.best_params.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>
<table><tr><th>score</th><th>value</th></tr>
{% for k, v in c.scores.items() %}<tr><td>{{ k }}</td><td>{{ "%.4g"|format(v) }}</td></tr>{% endfor %}</table>
{% for name, url in c.links.items() %}<p>{{ name }}: <a href="{{ url }}">{{ url }}</a></p>{% endfor %}
{% if c.registered_model %}<p>Registered model: <code>{{ c.registered_model }}</code></p>{% endif %}
<h2 id="finalists">Finalists</h2>
{% if c.finalists %}
<p>{{ c.finalists.selection }}</p>
<p class="note">Each finalist was re-scored on {{ c.finalists.repeat_seeds|length }} more run(s) of the study's folds (seeds {{ c.finalists.repeat_seeds|join(", ") }}); the search's own score of a trial is biased upwards by the search itself. Tests: corrected resampled t-test (Nadeau and Bengio), which allows for the folds' overlapping training sets.</p>
<table><tr><th>finalist</th><th>search {{ c.finalists.metric }}</th><th>repeated-CV mean</th><th>standard error</th><th>fit s/fold</th><th>configuration</th></tr>
{% for f in c.finalists.finalists %}<tr class="{{ 'chosen' if f.chosen else '' }}"><td>{{ f.label }}{{ ' (chosen)' if f.chosen else '' }}</td>
<td>{{ "%.4f"|format(f.search_score) if f.search_score is not none else "" }}</td>
<td>{{ "%.4f"|format(f.mean) if f.mean is not none else "failed: " ~ f.error }}</td>
<td>{{ "%.4f"|format(f.standard_error) if f.standard_error is not none else "" }}</td>
<td>{{ "%.3f"|format(f.fit_seconds) if f.fit_seconds is not none else "" }}</td>
<td><code>{{ f.params }}</code></td></tr>{% endfor %}</table>
<ul>{% for s in c.finalists.sentences %}<li>{{ s }}</li>{% endfor %}</ul>
{% else %}<p class="note">No finalist analysis for this study (analysis: none, several objectives, or population-based training).</p>{% endif %}
<h2 id="importances">Importances</h2>
{% for metric, evaluators in c.importances.items() %}<h3>{{ metric }}</h3>
<table><tr><th>evaluator</th><th>parameter shares</th></tr>
{% for name, shares in evaluators.items() %}<tr><td>{{ name }}</td><td>{% if shares is mapping %}{% for p, v in shares.items() %}{{ p }} {{ "%.3f"|format(v) }}{{ ", " if not loop.last }}{% endfor %}{% else %}<span class="note">{{ shares }}</span>{% endif %}</td></tr>{% endfor %}
</table>{% endfor %}
<h2 id="plots">Plots</h2>
{% for p in c.plots %}<section class="plot" id="plot-{{ p.name }}"><h3>{{ p.title }}</h3>{{ p.html|safe }}</section>{% endfor %}
{% if c.skipped_plots %}<p class="note">Not drawn: {% for k, v in c.skipped_plots.items() %}{{ k }} ({{ v }}){{ "; " if not loop.last }}{% endfor %}</p>{% endif %}
<h2 id="spec">Spec</h2><pre>{{ c.spec_yaml }}</pre>
<h2 id="provenance">Provenance</h2>
<table>{% for k, v in c.provenance.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>
<h2 id="cost">Cost</h2>
<table>{% for k, v in c.cost.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>
</body></html>
"""


def render_report(content: ReportContent) -> str:
    import jinja2
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(TEMPLATE).render(c=content, plotly_js=Markup(get_plotlyjs()))
