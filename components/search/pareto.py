"""Several objectives: the Pareto front as a table, and the spec's rule for which front trial to refit.

Pure functions over plain rows (``{"trial": n, "<metric>": value, ...params}``), so the rule is tested
without a study. ``objective.select`` states the rule: the best ``best`` metric among the front trials
within every bound of ``where`` -- for example the most accurate model that predicts 1,000 rows in
under 5 ms. When no front trial meets the bounds, nothing is refitted and the reason names the bound
and the closest value seen, so the user can relax it knowingly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetune.components.spec import SelectSpec


@dataclass(frozen=True)
class Selection:
    row: dict[str, Any] | None
    reason: str


def front_rows(trials: list[Any], metrics: list[str]) -> list[dict[str, Any]]:
    """The Pareto-optimal trials as table rows, ordered by the first metric's trial number for stability."""
    rows = []
    for trial in sorted(trials, key=lambda t: t.number):
        rows.append(
            {
                "trial": trial.number,
                **dict(zip(metrics, trial.values)),
                **{f"param.{k}": v for k, v in trial.params.items()},
            }
        )
    return rows


def within(row: dict[str, Any], rule: SelectSpec) -> bool:
    for metric, bound in rule.where.items():
        value = row[metric]
        if (bound.min is not None and value < bound.min) or (
            bound.max is not None and value > bound.max
        ):
            return False
    return True


def select(
    rows: list[dict[str, Any]], metrics: list[str], directions: list[str], rule: SelectSpec
) -> Selection:
    """The front trial to refit by ``rule``, or None with the reason no trial qualifies."""
    best = rule.best or metrics[0]
    sign = 1.0 if directions[metrics.index(best)] == "maximize" else -1.0
    eligible = [row for row in rows if within(row, rule)]
    if not eligible:
        return Selection(
            None, f"no Pareto-optimal trial meets {describe(rule)} ({_closest(rows, rule)})"
        )
    chosen = max(eligible, key=lambda row: (sign * row[best], -row["trial"]))
    return Selection(
        chosen,
        f"best {best} among {len(eligible)} of {len(rows)} Pareto-optimal trials"
        + (f" with {describe(rule)}" if rule.where else ""),
    )


def describe(rule: SelectSpec) -> str:
    parts = []
    for metric, bound in rule.where.items():
        if bound.min is not None:
            parts.append(f"{metric} >= {bound.min:g}")
        if bound.max is not None:
            parts.append(f"{metric} <= {bound.max:g}")
    return " and ".join(parts) or "no bounds"


def _closest(rows: list[dict[str, Any]], rule: SelectSpec) -> str:
    seen = []
    for metric, bound in rule.where.items():
        values = [row[metric] for row in rows]
        if values and bound.max is not None:
            seen.append(f"lowest {metric} on the front: {min(values):.4g}")
        if values and bound.min is not None:
            seen.append(f"highest {metric} on the front: {max(values):.4g}")
    return "; ".join(seen) or "the front is empty"
