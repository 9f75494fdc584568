"""A metric's value on many bootstrap resamples of the held-out rows at once.

Scoring a thousand resamples one by one through a scikit-learn scorer validates the labels a thousand
times (``type_of_target``, label binarisation: about 1.6 ms a call on a thousand rows), which made the
held-out intervals the slowest part of a small study's close. The common metrics are means over rows
(accuracy, log loss, squared and absolute errors), a ratio of two such sums (R²) or a sum over pairs of
rows (two-class ROC AUC, the Mann-Whitney statistic), so every resample's value follows from which rows it
drew, for all resamples in one array operation. Other metrics have none here and are scored one resample
at a time; the caller also checks the full sample's value against the scorer's before trusting one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

# (resamples, rows) row indices -> (resamples,) values of the metric, in its natural units
BatchStatistic = Callable[[np.ndarray], np.ndarray]


def batch_statistic(
    metric: str, outputs: dict[str, np.ndarray], labels: np.ndarray, classes: Any
) -> BatchStatistic | None:
    """The metric on every resample at once, from the model's stored outputs on the held-out rows;
    None for a metric that is not a sum over rows or pairs (it is scored resample by resample)."""
    if metric == "accuracy" and "predict" in outputs:
        return _mean_of((outputs["predict"] == labels).astype(float))
    if metric == "log_loss" and "predict_proba" in outputs and classes is not None:
        return _log_loss_of(outputs["predict_proba"], labels, np.asarray(classes))
    if metric in ("mse", "rmse", "mae", "r2") and "predict" in outputs and classes is None:
        return _regression_statistic(metric, np.asarray(outputs["predict"], float), labels)
    if metric == "roc_auc" and classes is not None and len(classes) == 2:
        return _binary_auc_of(_positive_scores(outputs), labels == classes[1])
    return None


def _mean_of(per_row: np.ndarray) -> BatchStatistic:
    return lambda index: per_row[index].mean(axis=-1)


def _log_loss_of(
    proba: np.ndarray, labels: np.ndarray, classes: np.ndarray
) -> BatchStatistic | None:
    """scikit-learn's log loss row by row: minus the log of the true class's probability, clipped to
    [eps, 1 - eps] of the probabilities' dtype."""
    column = {label: position for position, label in enumerate(classes.tolist())}
    try:
        true_columns = np.array([column[label] for label in labels.tolist()])
    except KeyError:  # a label the model never saw: the scorer says what is wrong
        return None
    proba = np.asarray(proba, dtype=float)
    eps = np.finfo(proba.dtype).eps
    true_proba = np.clip(proba[np.arange(len(labels)), true_columns], eps, 1 - eps)
    return _mean_of(-np.log(true_proba))


def _regression_statistic(metric: str, predicted: np.ndarray, labels: np.ndarray) -> BatchStatistic:
    truth = np.asarray(labels, dtype=float)
    errors = predicted - truth
    if metric == "mae":
        return _mean_of(np.abs(errors))
    squared = errors**2
    if metric == "mse":
        return _mean_of(squared)
    if metric == "rmse":
        return lambda index: np.sqrt(squared[index].mean(axis=-1))

    def r2(index: np.ndarray) -> np.ndarray:
        drawn = truth[index]
        residual = squared[index].sum(axis=-1)
        total = ((drawn - drawn.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            # scikit-learn's force_finite: a constant target scores 1 when predicted exactly, else 0
            return np.where(total == 0, np.where(residual == 0, 1.0, 0.0), 1 - residual / total)

    return r2


def _positive_scores(outputs: dict[str, np.ndarray]) -> np.ndarray:
    """What scikit-learn's roc_auc scorer ranks by: the decision function, else the positive class's
    probability."""
    if "decision_function" in outputs:
        return np.asarray(outputs["decision_function"], dtype=float).ravel()
    return np.asarray(outputs["predict_proba"], dtype=float)[:, 1]


def _binary_auc_of(scores: np.ndarray, positive: np.ndarray) -> BatchStatistic:
    """ROC AUC of a resample as the Mann-Whitney statistic with the rows' draw counts as weights:
    the share of (positive, negative) pairs ranked in order, a tie counting half."""
    order = np.argsort(scores, kind="mergesort")
    sorted_scores, sorted_positive = scores[order], positive[order]
    # tied scores form one group: a pair inside a group counts half
    group_starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    n_rows = len(scores)

    def auc(index: np.ndarray) -> np.ndarray:
        drawn = index.reshape(-1, n_rows)
        counts = np.zeros((len(drawn), n_rows))
        np.add.at(counts, (np.arange(len(drawn))[:, None], drawn), 1.0)
        counts = counts[:, order]
        positives = np.add.reduceat(counts * sorted_positive, group_starts, axis=1)
        negatives = np.add.reduceat(counts * ~sorted_positive, group_starts, axis=1)
        negatives_below = np.cumsum(negatives, axis=1) - negatives
        pairs = positives.sum(axis=1) * negatives.sum(axis=1)
        ordered = (positives * (negatives_below + 0.5 * negatives)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(pairs > 0, ordered / pairs, np.nan).reshape(index.shape[:-1])

    return auc
