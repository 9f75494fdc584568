"""A bootstrap confidence interval for a fitted model's score on the held-out rows.

The model predicts the held-out rows once; each bootstrap resample is scored from those stored outputs
through the same scikit-learn scorer the refit used (kubetune.components.evaluation.build_scorer), so the
interval is of exactly the number the summary reports, at the cost of a thousand metric evaluations,
not a thousand predictions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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
    replayed = replay_predictions(model, X)
    rows = np.arange(len(y)).reshape(-1, 1)
    labels = y.to_numpy()  # numpy, not a Series: scikit-learn checks a Series far more slowly

    def metric_on(metric: str) -> Any:
        scorer = build_scorer(metric, target.n_classes, target.positive_class)
        return lambda index: to_natural(metric, scorer(replayed, rows[index], labels[index]))

    return {
        metric: bootstrap_interval(len(y), metric_on(metric), seed=seed, resamples=resamples)
        for metric in target.metrics
        if not METRICS[metric].cost
    }


def replay_predictions(model: Any, X: pd.DataFrame) -> Any:
    """An estimator that answers from ``model``'s outputs on ``X``, given row indices as its input."""
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier

    outputs = {m: getattr(model, m)(X) for m in RESPONSE_METHODS if hasattr(model, m)}
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
