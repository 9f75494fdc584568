"""The Pareto front as a PNG for the parent run: every finished trial, the front, the refitted one."""

from __future__ import annotations

import io
from typing import Any


def pareto_png(
    all_rows: list[dict[str, Any]],
    front: list[dict[str, Any]],
    metrics: list[str],
    chosen_trial: int | None,
) -> bytes:
    """A scatter of the first two objectives (matplotlib's headless backend, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    x_name, y_name = metrics[0], metrics[1]
    figure = Figure(figsize=(6, 4.5), dpi=100)
    axes = figure.subplots()
    axes.scatter(
        [r[x_name] for r in all_rows],
        [r[y_name] for r in all_rows],
        s=14,
        c="#bbbbbb",
        label="trials",
    )
    ordered = sorted(front, key=lambda r: r[x_name])
    axes.plot(
        [r[x_name] for r in ordered],
        [r[y_name] for r in ordered],
        "o-",
        c="#d62728",
        ms=5,
        label="Pareto front",
    )
    chosen = [r for r in front if r["trial"] == chosen_trial]
    if chosen:
        axes.scatter(
            [chosen[0][x_name]],
            [chosen[0][y_name]],
            s=160,
            facecolors="none",
            edgecolors="k",
            linewidths=1.5,
            label=f"refit: trial {chosen_trial}",
        )
    axes.set_xlabel(x_name)
    axes.set_ylabel(y_name)
    axes.set_title(
        "Pareto front"
        + (f" (+{len(metrics) - 2} more objectives in the table)" if len(metrics) > 2 else "")
    )
    axes.legend(loc="best", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
