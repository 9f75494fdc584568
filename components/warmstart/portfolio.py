"""Which past configurations to run first, and in what order: a greedy portfolio over past studies.

Taking each similar study's own top configurations in turn (its best, then the next neighbour's best)
puts a configuration first because it won on *one* dataset, and fills the first trials with near-copies
of one region. What a new study needs first is the configuration that is good on *all* similar datasets,
then the one that covers the datasets where the first is weak, and so on (Wistuba et al., "Sequential
model-free hyperparameter tuning", ICDM 2015; Pfisterer et al., "Learning multiple defaults", 2018).

A past study only scored the configurations it tried, so a candidate's score on another past dataset is
estimated from that study's nearest trials (inverse-distance k-NN over a Gower distance that handles
numbers, log scales, categories and inactive conditional parameters). Scores are turned into quantiles
within each study so that studies on easy and hard datasets weigh the same. Every function is pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scipy.stats import rankdata

from kubetune.components.search import Space

NEIGHBOURS_PER_ESTIMATE = 3
# a candidate that lifts the weighted coverage by less than this is not worth a trial
MIN_GAIN = 0.02
NEAR_DUPLICATE = 0.05  # Gower distance under which two configurations are treated as the same point


@dataclass(frozen=True)
class ScoredTrials:
    """One past study's tried configurations (projected into the current space) with their quantiles."""

    configs: list[dict[str, Any]]
    quantiles: list[float]  # 1.0 = the study's best, 0.0 = its worst
    weight: float  # how much this study counts (nearer datasets more)


def _unit(value: Any, param: Any) -> float:
    low, high, number = float(param.low), float(param.high), float(value)
    if param.log and low > 0:
        low, high, number = math.log(low), math.log(high), math.log(max(number, float(param.low)))
    return 0.0 if high == low else (number - low) / (high - low)


def config_distance(a: dict[str, Any], b: dict[str, Any], space: Space) -> float:
    """Gower distance in [0, 1]: numbers on their (log) range, categories equal or not, and a parameter
    active in one configuration only (a different branch of a condition) counts as fully different."""
    total, used = 0.0, 0
    for name, param in space.items():
        in_a, in_b = name in a, name in b
        if not in_a and not in_b:
            continue
        used += 1
        if in_a != in_b:
            total += 1.0
        elif param.type == "categorical":
            total += 0.0 if str(a[name]) == str(b[name]) else 1.0
        else:
            total += min(abs(_unit(a[name], param) - _unit(b[name], param)), 1.0)
    return total / used if used else 0.0


def quantiles(scores: Sequence[float], direction: str) -> list[float]:
    """Each score's rank within its study as a fraction (ties share the mean rank); 1.0 is the best."""
    if len(scores) == 1:
        return [1.0]
    sign = 1.0 if direction == "maximize" else -1.0
    ranks = rankdata([sign * s for s in scores], method="average")  # 1 = the worst
    return [float(r - 1) / (len(scores) - 1) for r in ranks]


def estimate(config: dict[str, Any], study: ScoredTrials, space: Space) -> float:
    """The quantile ``config`` would reach on ``study``'s dataset: inverse-distance mean of the nearest trials."""
    nearest = sorted(
        (config_distance(config, other, space), q)
        for other, q in zip(study.configs, study.quantiles)
    )
    nearest = nearest[:NEIGHBOURS_PER_ESTIMATE]
    if nearest[0][0] < 1e-9:
        return nearest[0][1]  # tried there: its own result
    weights = [1.0 / d for d, _ in nearest]
    return sum(w * q for w, (_, q) in zip(weights, nearest)) / sum(weights)


def portfolio(
    candidates: list[Any],
    studies: list[ScoredTrials],
    space: Space,
    limit: int,
    params_of: Callable[[Any], dict[str, Any]] = lambda c: c,
) -> list[Any]:
    """Greedy: each pick maximizes the weighted sum over studies of the best estimated quantile reached so
    far. The first pick is the most robust configuration; later ones cover the studies the earlier ones
    serve badly; it stops at ``limit`` or when no candidate adds ``MIN_GAIN``."""
    if not candidates or not studies:
        return []
    total_weight = sum(s.weight for s in studies) or 1.0
    table = [[estimate(params_of(c), s, space) for s in studies] for c in candidates]
    covered = [0.0] * len(studies)
    chosen: list[int] = []
    while len(chosen) < limit:
        best_index, best_gain = -1, 0.0
        for index, row in enumerate(table):
            if index in chosen:
                continue
            gain = (
                sum(s.weight * max(0.0, q - c) for s, q, c in zip(studies, row, covered))
                / total_weight
            )
            if gain > best_gain + 1e-12:
                best_index, best_gain = index, gain
        if best_index < 0 or (chosen and best_gain < MIN_GAIN):
            break
        chosen.append(best_index)
        covered = [max(c, q) for c, q in zip(covered, table[best_index])]
    return [candidates[i] for i in chosen]


def spread_out(
    candidates: list[Any],
    space: Space,
    limit: int,
    params_of: Callable[[Any], dict[str, Any]] = lambda c: c,
) -> list[Any]:
    """The best candidates (given best first) that are not near-duplicates of one already taken: a
    drifted dataset rarely rewards five copies of last month's optimum, but may one of its runners-up."""
    taken: list[Any] = []
    for candidate in candidates:
        if len(taken) >= limit:
            break
        if all(
            config_distance(params_of(candidate), params_of(t), space) >= NEAR_DUPLICATE
            for t in taken
        ):
            taken.append(candidate)
    return taken
