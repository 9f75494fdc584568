"""The study's plots, each as an interactive plotly figure (for the report) and a static PNG (for the
MLflow run's artifacts): optimization history with warm-start and pruned trials marked, parallel
coordinates, slices, the contour of the two most important parameters, importances, learning curves,
the Pareto front and the finalists with their intervals.

Optuna's own plotly and matplotlib plots where they show what is needed; the history, the importances
and the finalists are drawn here because Optuna's versions cannot mark warm-start trials, show two
evaluators side by side, or know about finalists.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna

from kubetune.components.core import WARM_KIND

INTERACTIVE_OPTIONS = {"full_html": False, "include_plotlyjs": False}


@dataclass(frozen=True)
class Plot:
    name: str  # file stem: plots/<name>.png
    title: str
    html: str  # a <div> drawing the figure; the page includes plotly.js once
    png: bytes | None


def study_plots(
    study: optuna.Study,
    metrics: list[str],
    importances: dict[str, Any],
    ranked: list[str],
    finalists: dict[str, Any] | None,
) -> tuple[list[Plot], dict[str, str]]:
    """Every plot this study can have, and for each one it cannot, why (too few trials, one parameter)."""
    import matplotlib

    matplotlib.use("Agg")
    from optuna import visualization as vis
    from optuna.visualization import matplotlib as vis_png

    several = len(metrics) > 1
    target = (lambda t: t.values[0]) if several else None
    name = metrics[0]
    builders: list[tuple[str, str, Callable[[], Any], Callable[[], Any]]] = [
        (
            "history",
            f"Optimization history ({name})",
            lambda: history_figure(study, name, 0),
            lambda: history_png(study, name, 0),
        ),
        (
            "parallel_coordinates",
            "Parallel coordinates",
            lambda: vis.plot_parallel_coordinate(study, target=target, target_name=name),
            lambda: vis_png.plot_parallel_coordinate(study, target=target, target_name=name),
        ),
        (
            "slice",
            "Slice: the objective against each parameter",
            lambda: vis.plot_slice(study, target=target, target_name=name),
            lambda: vis_png.plot_slice(study, target=target, target_name=name),
        ),
    ]
    if len(ranked) >= 2:
        top = ranked[:2]
        builders.append(
            (
                "contour",
                f"Contour of the two most important parameters ({top[0]}, {top[1]})",
                lambda: vis.plot_contour(study, params=top, target=target, target_name=name),
                lambda: vis_png.plot_contour(study, params=top, target=target, target_name=name),
            )
        )
    if any(isinstance(v, dict) for v in importances.get(name, {}).values()):
        builders.append(
            (
                "importances",
                "Hyperparameter importances",
                lambda: importances_figure(importances),
                lambda: importances_png(importances),
            )
        )
    if any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        builders.append(
            (
                "learning_curves",
                "Intermediate values (learning curves; pruned trials stop early)",
                lambda: vis.plot_intermediate_values(study),
                lambda: vis_png.plot_intermediate_values(study),
            )
        )
    if several:
        builders.append(
            (
                "pareto_front",
                "Pareto front",
                lambda: vis.plot_pareto_front(study, target_names=metrics[:3]),
                lambda: vis_png.plot_pareto_front(study, target_names=metrics[:3]),
            )
        )
    if finalists and any(f.get("mean") is not None for f in finalists["finalists"]):
        builders.append(
            (
                "finalists",
                "Finalists on repeated cross-validation (mean and 95% interval)",
                lambda: finalists_figure(finalists),
                lambda: finalists_png(finalists),
            )
        )
    plots: list[Plot] = []
    skipped: dict[str, str] = {}
    for stem, title, interactive, static in builders:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                figure = interactive()
                figure.update_layout(title=None)  # the report's heading names it
                html = figure.to_html(**INTERACTIVE_OPTIONS)
                plots.append(Plot(stem, title, html, _png(static, title)))
        except Exception as error:  # noqa: BLE001 - a plot this study cannot have is skipped, with why
            skipped[stem] = f"{type(error).__name__}: {error}"[:300]
    return plots, skipped


def _png(draw: Callable[[], Any], title: str) -> bytes | None:
    """Optuna's matplotlib plots draw on pyplot's current figure; saved and closed here."""
    import matplotlib.pyplot as plt

    try:
        drawn = draw()
        axes = drawn.flat[0] if hasattr(drawn, "flat") else drawn
        figure = axes.figure if hasattr(axes, "figure") else drawn
        figure.set_size_inches(8, 5)
        figure.suptitle(title)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()
    except Exception:  # noqa: BLE001 - the interactive figure stands without its PNG
        return None
    finally:
        plt.close("all")


def _trial_kind(trial: optuna.trial.FrozenTrial) -> str:
    if trial.state.name == "PRUNED":
        return "pruned"
    if trial.user_attrs.get(WARM_KIND):
        return "warm start"
    return "searched"


def _history_points(study: optuna.Study, index: int) -> dict[str, list[tuple[int, float]]]:
    """(trial number, score) by kind; a pruned trial at its last reported score."""
    points: dict[str, list[tuple[int, float]]] = {"searched": [], "warm start": [], "pruned": []}
    for trial in study.get_trials(deepcopy=False):
        if trial.state.name == "COMPLETE" and trial.values:
            value = trial.values[index]
        elif trial.state.name == "PRUNED" and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        else:
            continue
        points[_trial_kind(trial)].append((trial.number, value))
    return points


def _best_so_far(study: optuna.Study, index: int) -> list[tuple[int, float]]:
    maximize = study.directions[index] == optuna.study.StudyDirection.MAXIMIZE
    best, line = None, []
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if trial.state.name != "COMPLETE" or not trial.values:
            continue
        value = trial.values[index]
        if best is None or (value > best if maximize else value < best):
            best = value
        line.append((trial.number, best))
    return line


MARKERS = {"searched": "#1f77b4", "warm start": "#2ca02c", "pruned": "#bbbbbb"}


def history_figure(study: optuna.Study, metric: str, index: int) -> Any:
    import plotly.graph_objects as go

    figure = go.Figure()
    for kind, points in _history_points(study, index).items():
        if points:
            figure.add_trace(
                go.Scatter(
                    x=[p[0] for p in points],
                    y=[p[1] for p in points],
                    mode="markers",
                    name=kind,
                    marker={"color": MARKERS[kind]},
                )
            )
    best = _best_so_far(study, index)
    figure.add_trace(
        go.Scatter(x=[p[0] for p in best], y=[p[1] for p in best], mode="lines", name="best so far")
    )
    figure.update_layout(xaxis_title="trial", yaxis_title=metric)
    return figure


def history_png(study: optuna.Study, metric: str, index: int) -> Any:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    for kind, points in _history_points(study, index).items():
        if points:
            axes.scatter(
                [p[0] for p in points], [p[1] for p in points], s=16, c=MARKERS[kind], label=kind
            )
    best = _best_so_far(study, index)
    axes.step([p[0] for p in best], [p[1] for p in best], where="post", c="#d62728", label="best")
    axes.set_xlabel("trial")
    axes.set_ylabel(metric)
    axes.legend()
    return axes


def _importance_rows(importances: dict[str, Any]) -> tuple[list[str], dict[str, list[float]]]:
    first = next(iter(importances.values()))
    evaluators = {k: v for k, v in first.items() if isinstance(v, dict)}
    params = sorted({p for shares in evaluators.values() for p in shares})
    return params, {k: [v.get(p, 0.0) for p in params] for k, v in evaluators.items()}


def importances_figure(importances: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    params, shares = _importance_rows(importances)
    figure = go.Figure([go.Bar(y=params, x=v, name=k, orientation="h") for k, v in shares.items()])
    figure.update_layout(barmode="group", xaxis_title="share of importance")
    return figure


def importances_png(importances: dict[str, Any]) -> Any:
    import matplotlib.pyplot as plt

    params, shares = _importance_rows(importances)
    figure, axes = plt.subplots()
    height = 0.8 / max(len(shares), 1)
    for offset, (name, values) in enumerate(shares.items()):
        axes.barh([i + offset * height for i in range(len(params))], values, height, label=name)
    axes.set_yticks([i + 0.4 - height / 2 for i in range(len(params))], params)
    axes.set_xlabel("share of importance")
    axes.legend()
    return axes


def _finalist_intervals(finalists: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    """(label, mean, half-width of a 95% t-interval, chosen) per scored finalist."""
    from scipy import stats

    rows = []
    for row in finalists["finalists"]:
        if row.get("mean") is None:
            continue
        n = len(row["scores"])
        half = float(stats.t.ppf(0.975, n - 1)) * row["standard_error"] if n > 1 else 0.0
        rows.append(
            (row["label"], row["mean"], half if math.isfinite(half) else 0.0, row["chosen"])
        )
    return rows


def finalists_figure(finalists: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    rows = _finalist_intervals(finalists)
    figure = go.Figure(
        go.Scatter(
            x=[r[1] for r in rows],
            y=[r[0] + (" (chosen)" if r[3] else "") for r in rows],
            error_x={"type": "data", "array": [r[2] for r in rows]},
            mode="markers",
        )
    )
    figure.update_layout(xaxis_title=f"repeated-CV {finalists['metric']}")
    return figure


def finalists_png(finalists: dict[str, Any]) -> Any:
    import matplotlib.pyplot as plt

    rows = _finalist_intervals(finalists)
    figure, axes = plt.subplots()
    axes.errorbar(
        [r[1] for r in rows],
        range(len(rows)),
        xerr=[r[2] for r in rows],
        fmt="o",
        capsize=4,
    )
    axes.set_yticks(range(len(rows)), [r[0] + (" (chosen)" if r[3] else "") for r in rows])
    axes.set_xlabel(f"repeated-CV {finalists['metric']}")
    return axes
