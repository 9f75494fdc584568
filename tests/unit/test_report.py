"""The study report's page: self-contained, and every value from the spec, the data or MLflow is text."""

from kubetune.components.analysis import Plot, ReportContent, render_report


def content(**changes):
    values = dict(
        study="churn",
        headline=["held-out roc_auc: tuned 0.971 [0.955, 0.985] vs default 0.948 [0.928, 0.966]"],
        scores={"test_roc_auc": 0.971},
        best_params={"C": "0.5"},
        finalists=None,
        importances={"roc_auc": {"fanova": {"C": 1.0}, "ped_anova": "1 finished trial(s)"}},
        plots=[Plot("history", "Optimization history", '<div id="h">drawn</div>', None)],
        skipped_plots={"contour": "one parameter"},
        spec_yaml="data: {source: x.csv}\n",
        provenance={"kubetune.version.optuna": "5.0.0"},
        cost={"trials": "20 complete"},
    )
    return ReportContent(**{**values, **changes})


def test_the_page_holds_plotly_and_every_section_and_links_nothing_outside():
    page = render_report(content())
    for section in ("summary", "finalists", "importances", "plots", "spec", "provenance", "cost"):
        assert f'id="{section}"' in page
    assert "tuned 0.971 [0.955, 0.985] vs default 0.948" in page
    assert '<div id="h">drawn</div>' in page  # the figure's own markup, as plotly wrote it
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs() in page  # plotly.js inlined once: the page opens offline
    around = page.replace(get_plotlyjs(), "")
    assert "<script src=" not in around and "http" not in around


def test_values_from_the_spec_and_mlflow_are_escaped():
    hostile = "<script>alert(1)</script>"
    page = render_report(
        content(study=hostile, spec_yaml=f"study: {hostile}", best_params={hostile: hostile})
    )
    assert hostile not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
