"""A search space narrowed to the box of past optima (``warm_start.narrow_space``).

Perrone et al. ("Learning search spaces for Bayesian optimization", NeurIPS 2019): instead of trusting
a few neighbours, search only the smallest box that holds the best configuration of *every* past study
of the same model family and task. It does not depend on choosing the right neighbours (which is what
limits the plain warm start, docs/benchmarks.md), and the past optima together say which part of a wide
default range ever wins. The box also holds the planned warm-start trials, so every enqueued trial lies
inside the space it is sampled in.

Only numeric parameters are narrowed; categories are kept whole. A parameter is left whole where fewer
than ``MIN_STUDIES`` past optima speak about it (too little evidence), or where they all agree on one
value (a box of one point would fix the parameter for good on the say of a handful of studies).

The box is widened by ``MARGIN`` of its own width on each side, on the parameter's scale (log where the
parameter is log), and clipped to the spec's range. Without it, a dataset whose optimum lies just past
every past optimum loses it for good: measured on logistic regression with crabs, whose optimum is C at
the space's upper edge, where the tight box never came within 1% of the cold best in 3 of 5 seeds
(docs/benchmarks.md). Pure functions: the planner calls them with the history it already read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from kubetune.components.search import Space
from kubetune.components.spec import ParamSpec

MIN_STUDIES = 3  # past optima needed before a parameter's range is narrowed
MARGIN = 0.1  # of the box's width, added on each side: room for an optimum just past the past ones


def past_optima_box(
    space: Space, optima: list[dict[str, Any]], warm: Iterable[dict[str, Any]] = ()
) -> Space:
    """``space`` with each numeric parameter's range cut to the span of ``optima`` (and ``warm``).

    ``optima`` and ``warm`` are configurations already projected into ``space``
    (kubetune.components.search.space.project), so their values lie inside its bounds and on its steps.
    """
    points = list(optima) + list(warm)
    narrowed: Space = {}
    for name, param in space.items():
        evidence = [o[name] for o in optima if name in o]
        values = [p[name] for p in points if name in p]
        if param.type == "categorical" or len(evidence) < MIN_STUDIES or min(values) == max(values):
            narrowed[name] = param
            continue
        narrowed[name] = _cut(param, min(values), max(values))
    return narrowed


def _cut(param: ParamSpec, low: float, high: float) -> ParamSpec:
    """``param`` with bounds ``low``..``high`` widened by ``MARGIN``, inside the spec's range and on its
    step grid (``low`` and ``high`` are already on it; the margin is rounded outwards)."""
    to_scale, from_scale = (math.log, math.exp) if param.log else (float, float)
    pad = MARGIN * (to_scale(high) - to_scale(low))
    full_low, full_high = param.bounds
    wide_low = max(full_low, from_scale(to_scale(low) - pad))
    wide_high = min(full_high, from_scale(to_scale(high) + pad))
    step = param.step or (1 if param.type == "int" else None)
    if step is not None:
        wide_low = max(
            full_low, full_low + math.floor(round((wide_low - full_low) / step, 9)) * step
        )
        wide_high = min(
            full_high, full_low + math.ceil(round((wide_high - full_low) / step, 9)) * step
        )
    if param.type == "int":
        wide_low, wide_high = int(wide_low), int(wide_high)
    elif step is not None:
        # 0.22, not 0.22000000000000003
        wide_low, wide_high = (
            round(wide_low, 12),
            round(wide_high, 12),
        )
    return param.model_copy(update={"low": wide_low, "high": wide_high})


def narrowed_ranges(full: Space, narrowed: Space) -> dict[str, dict[str, Any]]:
    """What the box changed, for the parent run: ``{name: {"low", "high", "full_low", "full_high"}}``."""
    return {
        name: {
            "low": param.low,
            "high": param.high,
            "full_low": full[name].low,
            "full_high": full[name].high,
        }
        for name, param in narrowed.items()
        if param.type != "categorical"
        and (param.low, param.high) != (full[name].low, full[name].high)
    }


def describe_ranges(ranges: dict[str, dict[str, Any]]) -> str:
    """``narrowed_ranges`` in one line for logs and tags: ``n_neighbors 6-50, max_depth 4-10``."""
    return ", ".join(f"{name} {r['low']:g}-{r['high']:g}" for name, r in ranges.items())
