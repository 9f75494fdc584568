"""Meta-features of a dataset: what a warm start compares to find past studies on similar data.

Computed once, on the training part only (the held-out test set is never looked at), and logged to the
study's parent run as ``meta.<name>`` metrics, so the MLflow tracking store itself is the meta-store.
The set follows the meta-learning literature (Feurer et al., "Efficient and Robust Automated Machine
Learning"; Rivolli et al., "Meta-features for meta-learning"): simple counts, statistical summaries, and
cheap *landmarkers* -- the cross-validated score of tiny models, which say more about which
hyperparameters will work than any statistic does. Everything is a pure function of the frame.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from kubetune.components.data.frames import build_preprocessor

LANDMARK_ROWS = 1000  # landmarkers run on a subsample: they must stay cheap next to one trial
LANDMARK_FOLDS = 3

# Counts spread over orders of magnitude; the distance compares their logarithms.
LOG_SCALED = frozenset({"n_rows", "n_features", "n_numeric", "n_categorical", "n_classes"})


def compute_meta_features(
    X: pd.DataFrame, y: pd.Series, task: str, seed: int | None = 0
) -> dict[str, float]:
    """All meta-features of ``(X, y)``; every value is a finite float (NaN-free, so MLflow can store it)."""
    features = {**_simple(X), **_statistical(X)}
    features.update(
        _classification_target(y) if task == "classification" else _regression_target(y)
    )
    features.update(_landmarkers(X, y, task, seed))
    return {
        name: float(value)
        for name, value in features.items()
        if value is not None and math.isfinite(value)
    }


def _simple(X: pd.DataFrame) -> dict[str, float]:
    n_rows, n_features = X.shape
    numeric = X.select_dtypes(include=np.number)
    n_numeric = numeric.shape[1]
    missing = X.isna()
    return {
        "n_rows": n_rows,
        "n_features": n_features,
        "dimensionality": n_features / max(n_rows, 1),
        "n_numeric": n_numeric,
        "n_categorical": n_features - n_numeric,
        "categorical_ratio": (n_features - n_numeric) / max(n_features, 1),
        "missing_ratio": float(missing.to_numpy().mean()) if X.size else 0.0,
        "rows_with_missing_ratio": float(missing.any(axis=1).mean()) if n_rows else 0.0,
    }


def _statistical(X: pd.DataFrame) -> dict[str, float]:
    numeric = X.select_dtypes(include=np.number)
    if numeric.shape[1] == 0:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant columns have no skew; they are dropped below
        skew = numeric.skew().replace([np.inf, -np.inf], np.nan).dropna().abs()
        kurtosis = numeric.kurtosis().replace([np.inf, -np.inf], np.nan).dropna()
    if skew.empty:
        return {}
    return {
        "skew_abs_mean": skew.mean(),
        "skew_abs_max": skew.max(),
        "kurtosis_mean": kurtosis.mean() if not kurtosis.empty else 0.0,
        "kurtosis_max": kurtosis.max() if not kurtosis.empty else 0.0,
    }


def _classification_target(y: pd.Series) -> dict[str, float]:
    counts = y.value_counts().to_numpy(dtype=float)
    share = counts / counts.sum()
    n_classes = len(counts)
    entropy = float(-(share * np.log(share)).sum())
    return {
        "n_classes": n_classes,
        "class_entropy": entropy / math.log(n_classes) if n_classes > 1 else 0.0,  # 1 = balanced
        "imbalance_ratio": counts.min() / counts.max(),
        "majority_class_ratio": share.max(),
    }


def _regression_target(y: pd.Series) -> dict[str, float]:
    values = pd.to_numeric(y, errors="coerce").dropna()
    std = float(values.std()) if len(values) > 1 else 0.0
    return {
        "target_skew": float(values.skew()) if std > 0 else 0.0,
        "target_kurtosis": float(values.kurtosis()) if std > 0 else 0.0,
        "target_cv": std / abs(float(values.mean())) if std > 0 and values.mean() != 0 else 0.0,
    }


def _landmarkers(X: pd.DataFrame, y: pd.Series, task: str, seed: int | None) -> dict[str, float]:
    """Cross-validated scores of a decision stump, 1-NN and naive Bayes (linear model for regression)."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if len(X) > LANDMARK_ROWS:
        rows = np.random.default_rng(seed).choice(len(X), LANDMARK_ROWS, replace=False)
        X, y = X.iloc[np.sort(rows)], y.iloc[np.sort(rows)]
    if task == "classification":
        smallest = int(y.value_counts().min())
        if smallest < 2:
            return {}
        splitter = StratifiedKFold(
            n_splits=min(LANDMARK_FOLDS, smallest), shuffle=True, random_state=seed
        )
        models = {
            "landmark_stump": DecisionTreeClassifier(max_depth=1, random_state=seed),
            "landmark_1nn": KNeighborsClassifier(n_neighbors=1),
            "landmark_naive_bayes": GaussianNB(),
        }
        scoring = "balanced_accuracy"
    else:
        if len(X) < 2 * LANDMARK_FOLDS:
            return {}
        splitter = KFold(n_splits=LANDMARK_FOLDS, shuffle=True, random_state=seed)
        models = {
            "landmark_stump": DecisionTreeRegressor(max_depth=1, random_state=seed),
            "landmark_1nn": KNeighborsRegressor(n_neighbors=1),
            "landmark_linear": Ridge(alpha=1.0),
        }
        scoring = "r2"
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model in models.items():
            pipeline = make_pipeline(build_preprocessor(), model)
            try:
                scores[name] = float(
                    np.mean(cross_val_score(pipeline, X, y, cv=splitter, scoring=scoring))
                )
            except ValueError:
                # data no model here can fit (scikit-learn raises ValueError, "all fits failed"): the job goes
                # on without this landmarker -- the warm start compares the features two studies share --
                # and the trials, which fit the same preprocessing, report the cause one line per trial
                continue
    return scores
