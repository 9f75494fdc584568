"""Cross-validation of one configuration, and the single evaluation on the held-out test set.

The fold loop is written out (rather than ``cross_validate``) so that a trial can report progress: for a
family that trains in steps (kubetune.components.evaluation.fidelity), the learning curve on the first split's validation
rows (epochs, iterations, trees); otherwise the running score after each fold. That is what lets a
pruner stop a bad configuration early. Costs (prediction time, model size) are measured on the same
fitted fold models, for trade-offs against the score with several objectives.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kubetune.components.core import EvaluationTarget
from kubetune.components.data import build_preprocessor, features_and_target
from kubetune.components.evaluation.fidelity import StepCallback, fit_in_steps
from kubetune.components.evaluation.metrics import METRICS, build_scorer, to_natural
from kubetune.components.models import Fidelity

if TYPE_CHECKING:  # scikit-learn is imported where it is used: reading a spec does not need it
    from sklearn.model_selection import BaseCrossValidator, BaseShuffleSplit
    from sklearn.pipeline import Pipeline

FoldCallback = Callable[[int, float], None]  # (fold index, running mean of the first metric)


@dataclass
class CVResult:
    fold_scores: dict[str, list[float]] = field(default_factory=dict)
    fit_seconds: list[float] = field(default_factory=list)

    def mean(self, metric: str) -> float:
        return float(np.mean(self.fold_scores[metric]))

    def std(self, metric: str) -> float:
        return float(np.std(self.fold_scores[metric]))

    def extend(self, other: CVResult) -> None:
        """Another run of the folds (a repeat with another seed) after this one's."""
        for metric, scores in other.fold_scores.items():
            self.fold_scores.setdefault(metric, []).extend(scores)
        self.fit_seconds.extend(other.fit_seconds)


def splits(
    strategy: str,
    X: pd.DataFrame,
    y: pd.Series,
    n_classes: int | None,
    folds: int,
    val_size: float,
    seed: int | None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train rows, validation rows) per fold; a holdout on a classification target is stratified."""
    if strategy == "holdout" and n_classes is not None:
        strategy = "holdout_stratified"
    return make_splitter(strategy, folds, val_size, seed).split(X, y)


def make_splitter(
    strategy: str, folds: int, val_size: float, seed: int | None
) -> BaseCrossValidator | BaseShuffleSplit:
    from sklearn.model_selection import (
        KFold,
        ShuffleSplit,
        StratifiedKFold,
        StratifiedShuffleSplit,
        TimeSeriesSplit,
    )

    if strategy == "stratified_kfold":
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    if strategy == "kfold":
        return KFold(n_splits=folds, shuffle=True, random_state=seed)
    if strategy == "time_series":
        return TimeSeriesSplit(n_splits=folds)
    if strategy == "holdout_stratified":
        return StratifiedShuffleSplit(n_splits=1, test_size=val_size, random_state=seed)
    return ShuffleSplit(n_splits=1, test_size=val_size, random_state=seed)


def make_pipeline(estimator: Any) -> Pipeline:
    """Preprocessing + model: fitting the pipeline fits the preprocessing on the same rows only."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", build_preprocessor()), ("model", estimator)])


def cross_validate(
    estimator: Any,
    frame: pd.DataFrame,
    *,
    target: EvaluationTarget,
    strategy: str,
    folds: int,
    val_size: float,
    seed: int | None,
    on_fold: FoldCallback | None = None,
    fidelity: Fidelity | None = None,
    on_step: StepCallback | None = None,
) -> CVResult:
    """Scores per fold. With ``fidelity`` and ``on_step`` the first split is fitted in steps and reports
    its learning curve; otherwise ``on_fold`` gets the running mean after each fold."""
    from sklearn.base import clone

    metrics, n_classes, positive_class = target.metrics, target.n_classes, target.positive_class
    X, y = features_and_target(frame, target.column, list(target.drop))
    result = CVResult({m: [] for m in metrics})
    for index, (train_rows, val_rows) in enumerate(
        splits(strategy, X, y, n_classes, folds, val_size, seed)
    ):
        model = make_pipeline(clone(estimator))
        X_val, y_val = X.iloc[val_rows], y.iloc[val_rows]
        started = time.perf_counter()
        if index == 0 and fidelity is not None and on_step is not None:
            fit_in_steps(
                model,
                X.iloc[train_rows],
                y.iloc[train_rows],
                fidelity,
                lambda m: score(metrics[0], m, X_val, y_val, n_classes, positive_class),
                on_step,
            )
        else:
            model.fit(X.iloc[train_rows], y.iloc[train_rows])
        result.fit_seconds.append(time.perf_counter() - started)
        for metric in metrics:
            value = score(metric, model, X_val, y_val, n_classes, positive_class)
            if not np.isfinite(value):
                raise ValueError(f"{metric} is {value} on fold {index}")
            result.fold_scores[metric].append(value)
        if on_fold is not None and (fidelity is None or on_step is None):
            on_fold(index, result.mean(metrics[0]))
    return result


def score(
    metric: str,
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    n_classes: int | None,
    positive_class: Any = None,
) -> float:
    """One metric of a fitted model on some rows, in natural units; costs are measured, not scored.
    ``positive_class``: the class f1, precision, recall and average precision score on two classes."""
    if METRICS[metric].cost:
        return measure_cost(metric, model, X)
    return to_natural(metric, build_scorer(metric, n_classes, positive_class)(model, X, y))


INFERENCE_ROWS = 1_000  # inference_ms is the time to predict this many rows in one batch


def measure_cost(metric: str, model: Any, X: pd.DataFrame) -> float:
    """``inference_ms``: milliseconds to predict 1,000 rows in one batch (best of 3, preprocessing
    included), timed on 1,000 rows drawn from ``X``: timing a small validation fold and scaling it up
    would multiply the fixed cost of a call (a forest's thread start, the preprocessing's set-up) as if
    every few rows paid it again. ``model_size_kb``: the fitted pipeline pickled."""
    if metric == "model_size_kb":
        return len(pickle.dumps(model)) / 1024
    if metric == "inference_ms":
        batch = X.sample(n=INFERENCE_ROWS, replace=len(X) < INFERENCE_ROWS, random_state=0)
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            model.predict(batch)
            timings.append(time.perf_counter() - started)
        return min(timings) * 1_000
    raise ValueError(f"'{metric}' is not a cost metric")


def fit_full(estimator: Any, frame: pd.DataFrame, target: EvaluationTarget) -> Pipeline:
    """The refit: the pipeline fitted on the whole training part."""
    X, y = features_and_target(frame, target.column, list(target.drop))
    return make_pipeline(estimator).fit(X, y)


def score_holdout(model: Any, frame: pd.DataFrame, target: EvaluationTarget) -> dict[str, float]:
    X, y = features_and_target(frame, target.column, list(target.drop))
    return {
        m: score(m, model, X, y, target.n_classes, target.positive_class) for m in target.metrics
    }
