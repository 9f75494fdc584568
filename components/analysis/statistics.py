"""Significance and uncertainty for cross-validated comparisons.

Fold scores of two configurations evaluated on the same splits are paired, but the folds' training sets
overlap, so the plain paired t-test's variance is too small and it finds differences that are not there
(Dietterich 1998). The corrected resampled t-test (Nadeau and Bengio 2003, "Inference for the
generalization error") inflates the variance by the test/train size ratio; Bouckaert and Frank (2004)
showed it keeps its nominal size for repeated k-fold cross-validation, which is what the finalists get.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

BATCH_CELLS = 4_000_000  # row indices a batch of resamples holds at once (32 MB as int64)


@dataclass(frozen=True)
class Comparison:
    """A against B on the same splits; positive ``mean_difference`` favours A in the study's direction."""

    mean_difference: float
    t_statistic: float
    p_value: float  # two-sided
    effect_size: float  # mean paired difference over its standard deviation (Cohen's d_z)
    n_scores: int

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value < alpha


def corrected_resampled_ttest(
    a: Sequence[float], b: Sequence[float], split_size_ratio: float, maximize: bool = True
) -> Comparison:
    """Nadeau and Bengio's corrected resampled t-test on paired scores (same repeats, same folds).

    ``split_size_ratio``: validation rows over training rows in one split (1/(k-1) for k-fold CV).
    """
    from scipy import stats

    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"paired scores needed, at least 2 each: got {len(a)} and {len(b)}")
    differences = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if not maximize:
        differences = -differences
    n = len(differences)
    mean = float(differences.mean())
    variance = float(differences.var(ddof=1))
    if (
        variance == 0.0
    ):  # identical scores on every split: no evidence either way unless they differ
        t = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
        p = 1.0 if mean == 0.0 else 0.0
        return Comparison(mean, t, p, 0.0 if mean == 0.0 else math.copysign(math.inf, mean), n)
    t = mean / math.sqrt((1.0 / n + split_size_ratio) * variance)
    p = float(2.0 * stats.t.sf(abs(t), df=n - 1))
    return Comparison(mean, t, p, mean / math.sqrt(variance), n)


def scores_per_run(validation: str, folds: int) -> int:
    """The scores one run of the study's splits gives a configuration: one on a holdout split."""
    return 1 if _is_holdout(validation) else folds


def _is_holdout(validation: str) -> bool:
    return validation in ("holdout", "holdout_stratified")


def split_size_ratio(validation: str, folds: int, val_size: float) -> float:
    """Validation rows over training rows in one of the study's splits."""
    if _is_holdout(validation):
        return val_size / (1.0 - val_size)
    if (
        validation == "time_series"
    ):  # the last fold's training part is the largest; a conservative bound
        return 1.0
    return 1.0 / (folds - 1)


def standard_error(scores: Sequence[float]) -> float:
    """The spread of a cross-validated mean, as the one-standard-error rule uses it (Hastie et al.)."""
    values = np.asarray(scores, dtype=float)
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    confidence: float = 0.95

    def text(self, digits: int = 3) -> str:
        return f"{self.estimate:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def bootstrap_interval(
    n_rows: int,
    statistic: Callable[[np.ndarray], float],
    *,
    seed: int | None,
    resamples: int = 1000,
    confidence: float = 0.95,
    batch_statistic: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Interval:
    """Percentile bootstrap over rows (SciPy's ``bootstrap``): ``statistic`` scores a model on the rows at
    the given indices. The percentile method, not BCa: BCa's jackknife would score the model once per row.

    ``batch_statistic``, where the metric has one, scores a (resamples, rows) array of indices at once;
    without it ``statistic`` scores the resamples one by one. SciPy draws the same resamples either way,
    so it changes the cost, not the interval."""
    from scipy import stats

    rows = np.arange(n_rows)
    score_batch = batch_statistic or (lambda drawn: np.array([statistic(row) for row in drawn]))
    result = stats.bootstrap(
        (rows,),
        lambda index, axis: score_batch(np.moveaxis(np.asarray(index, dtype=int), axis, -1)),
        n_resamples=resamples,
        batch=max(1, BATCH_CELLS // max(n_rows, 1)),  # bounds the index array's memory
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Interval(statistic(rows), float(low), float(high), confidence)
