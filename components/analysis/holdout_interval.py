"""A bootstrap confidence interval for a fitted model's score on the held-out rows.

The model predicts the held-out rows once; each bootstrap resample is scored from those stored outputs.
The estimate is the scikit-learn scorer's, the one the refit used (kubetune.components.evaluation.build_scorer).
The resamples are scored all at once where the metric is a sum over rows (resampled_scores), after a check
that this gives the scorer's value on the full sample, and otherwise through the scorer, one at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kubetune.components.analysis.resampled_scores import BatchStatistic, batch_statistic
from kubetune.components.analysis.statistics import Interval, bootstrap_interval
from kubetune.components.core import EvaluationTarget
from kubetune.components.data import features_and_target
from kubetune.components.evaluation import METRICS, build_scorer, to_natural

RESPONSE_METHODS = ("predict", "predict_proba", "decision_function")


def holdout_intervals(
    model: Any,
    test: pd.DataFrame,
    target: EvaluationTarget,
    *,
    seed: int | None,
    resamples: int = 1000,
) -> dict[str, Interval]:
    """A 95% percentile-bootstrap interval per scored metric (costs such as inference_ms have none)."""
    X, y = features_and_target(test, target.column, list(target.drop))
    outputs = model_outputs(model, X)
    replayed = replay_predictions(model, outputs)
    rows = np.arange(len(y)).reshape(-1, 1)
    labels = y.to_numpy()  # numpy, not a Series: scikit-learn checks a Series far more slowly
    classes = getattr(model, "classes_", None)

    def metric_on(metric: str) -> Any:
        scorer = build_scorer(metric, target.n_classes, target.positive_class)
        return lambda index: to_natural(metric, scorer(replayed, rows[index], labels[index]))

    def checked_batch(metric: str, one_by_one: Any) -> BatchStatistic | None:
        batch = batch_statistic(metric, outputs, labels, classes)
        if batch is None:
            return None
        everything = np.arange(len(labels))[np.newaxis]
        agrees = np.isclose(batch(everything)[0], one_by_one(everything[0]), rtol=1e-9, atol=1e-12)
        return batch if agrees else None

    intervals = {}
    for metric in target.metrics:
        if METRICS[metric].cost:
            continue
        one_by_one = metric_on(metric)
        intervals[metric] = bootstrap_interval(
            len(y),
            one_by_one,
            seed=seed,
            resamples=resamples,
            batch_statistic=checked_batch(metric, one_by_one),
        )
    return intervals


def model_outputs(model: Any, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """What every scorer reads from a model: its predictions, probabilities and decision values."""
    return {m: np.asarray(getattr(model, m)(X)) for m in RESPONSE_METHODS if hasattr(model, m)}


def replay_predictions(model: Any, outputs: dict[str, np.ndarray]) -> Any:
    """An estimator that answers from ``model``'s stored outputs, given row indices as its input."""
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier

    base = ClassifierMixin if is_classifier(model) else RegressorMixin

    def answer(method: str) -> Any:
        def respond(self: Any, index: np.ndarray) -> Any:
            return outputs[method][np.asarray(index)[:, 0]]

        respond.__name__ = method  # scikit-learn names the method it called in its errors
        return respond

    # only the methods the model has: a scorer picks its response method by which ones exist
    replayed_class = type("Replayed", (base, BaseEstimator), {m: answer(m) for m in outputs})
    replayed = replayed_class()
    if hasattr(model, "classes_"):
        replayed.classes_ = model.classes_
    return replayed
