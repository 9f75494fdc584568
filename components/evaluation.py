"""Cross-validation of one configuration, and the single evaluation on the held-out test set.

The fold loop is written out (rather than ``cross_validate``) so that a trial can report the running
score after each fold: that is what lets a pruner stop a bad configuration before its last fold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from components.data import build_preprocessor, features_and_target
from components.metrics import scorer_name, to_natural

FoldCallback = Callable[[int, float], None]  # (fold index, running mean of the first metric)


@dataclass
class CVResult:
    fold_scores: dict[str, list[float]] = field(default_factory=dict)
    fit_seconds: list[float] = field(default_factory=list)

    def mean(self, metric: str) -> float:
        return float(np.mean(self.fold_scores[metric]))

    def std(self, metric: str) -> float:
        return float(np.std(self.fold_scores[metric]))


def make_splitter(strategy: str, folds: int, val_size: float, seed: int | None) -> Any:
    from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit, TimeSeriesSplit

    if strategy == "stratified_kfold":
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    if strategy == "kfold":
        return KFold(n_splits=folds, shuffle=True, random_state=seed)
    if strategy == "time_series":
        return TimeSeriesSplit(n_splits=folds)
    if strategy == "holdout_stratified":
        return StratifiedShuffleSplit(n_splits=1, test_size=val_size, random_state=seed)
    return ShuffleSplit(n_splits=1, test_size=val_size, random_state=seed)


def make_pipeline(estimator: Any) -> Any:
    """Preprocessing + model: fitting the pipeline fits the preprocessing on the same rows only."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", build_preprocessor()), ("model", estimator)])


def cross_validate(
    estimator: Any,
    frame: pd.DataFrame,
    *,
    target: str,
    drop: list[str],
    metrics: list[str],
    n_classes: int | None,
    strategy: str,
    folds: int,
    val_size: float,
    seed: int | None,
    on_fold: FoldCallback | None = None,
) -> CVResult:
    from sklearn.base import clone
    from sklearn.metrics import get_scorer

    X, y = features_and_target(frame, target, drop)
    if strategy == "holdout" and n_classes is not None:
        strategy = "holdout_stratified"
    splitter = make_splitter(strategy, folds, val_size, seed)
    scorers = {m: get_scorer(scorer_name(m, n_classes)) for m in metrics}
    result = CVResult({m: [] for m in metrics})
    for index, (train_rows, val_rows) in enumerate(splitter.split(X, y)):
        model = make_pipeline(clone(estimator))
        started = time.perf_counter()
        model.fit(X.iloc[train_rows], y.iloc[train_rows])
        result.fit_seconds.append(time.perf_counter() - started)
        for metric, scorer in scorers.items():
            score = to_natural(metric, scorer(model, X.iloc[val_rows], y.iloc[val_rows]))
            if not np.isfinite(score):
                raise ValueError(f"{metric} is {score} on fold {index}")
            result.fold_scores[metric].append(score)
        if on_fold is not None:
            on_fold(index, result.mean(metrics[0]))
    return result


def fit_full(estimator: Any, frame: pd.DataFrame, target: str, drop: list[str]) -> Any:
    """The refit: the pipeline fitted on the whole training part."""
    X, y = features_and_target(frame, target, drop)
    return make_pipeline(estimator).fit(X, y)


def score_holdout(
    model: Any, frame: pd.DataFrame, target: str, drop: list[str], metrics: list[str], n_classes: int | None
) -> dict[str, float]:
    from sklearn.metrics import get_scorer

    X, y = features_and_target(frame, target, drop)
    return {m: to_natural(m, get_scorer(scorer_name(m, n_classes))(model, X, y)) for m in metrics}
