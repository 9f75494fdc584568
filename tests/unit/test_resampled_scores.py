"""The held-out interval's fast path: every resample scored at once must give the interval that scoring
each resample through scikit-learn's scorer gives, on the same resamples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier

from kubetune.components.analysis import (
    holdout_interval as interval_module,
    holdout_intervals,
    statistics as statistics_module,
)
from kubetune.components.analysis.resampled_scores import batch_statistic
from kubetune.components.core import EvaluationTarget
from kubetune.components.evaluation.cross_validation import fit_full


def scored_one_by_one(model, test, target, seed, monkeypatch):
    """The same intervals with the fast path switched off: every resample through the scorer."""
    with monkeypatch.context() as patched:
        patched.setattr(interval_module, "batch_statistic", lambda *args: None)
        return holdout_intervals(model, test, target, seed=seed, resamples=300)


def fast_path_taken(monkeypatch):
    """Records, per interval in the order computed, whether it was scored all at once."""
    taken: list[bool] = []
    real = interval_module.bootstrap_interval

    def spy(*args, batch_statistic=None, **kwargs):
        taken.append(batch_statistic is not None)
        return real(*args, batch_statistic=batch_statistic, **kwargs)

    monkeypatch.setattr(interval_module, "bootstrap_interval", spy)
    return taken


def classification_data(labels=(0, 1), classes=2):
    X, y = make_classification(
        n_samples=500, n_features=6, n_informative=4, n_classes=classes, random_state=5
    )
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    frame["label"] = np.asarray(labels)[y]
    return frame.iloc[:300], frame.iloc[300:]


def assert_same_intervals(fast, slow):
    assert set(fast) == set(slow)
    for metric in fast:
        assert fast[metric].estimate == slow[metric].estimate, metric
        assert fast[metric].low == pytest.approx(slow[metric].low, rel=1e-9, abs=1e-12), metric
        assert fast[metric].high == pytest.approx(slow[metric].high, rel=1e-9, abs=1e-12), metric


@pytest.mark.parametrize("labels", [(0, 1), ("stayed", "churned")])
def test_two_class_metrics_at_once_match_the_scorer_resample_by_resample(labels, monkeypatch):
    train, test = classification_data(labels)
    target = EvaluationTarget(
        "label", (), ("roc_auc", "accuracy", "log_loss", "f1"), 2, max(labels)
    )
    model = fit_full(LogisticRegression(max_iter=1000), train, target)
    taken = fast_path_taken(monkeypatch)
    fast = holdout_intervals(model, test, target, seed=3, resamples=300)
    assert taken == [True, True, True, False]  # f1 has no fast path
    assert_same_intervals(fast, scored_one_by_one(model, test, target, 3, monkeypatch))
    assert fast["accuracy"].low < fast["accuracy"].estimate < fast["accuracy"].high


def test_tied_scores_count_half_in_the_auc(monkeypatch):
    """A shallow tree gives a handful of distinct probabilities: most pairs of rows are tied."""
    train, test = classification_data()
    target = EvaluationTarget("label", (), ("roc_auc", "log_loss"), 2, 1)
    model = fit_full(DecisionTreeClassifier(max_depth=2, random_state=0), train, target)
    assert len(np.unique(model.predict_proba(test.drop(columns="label"))[:, 1])) <= 4
    taken = fast_path_taken(monkeypatch)
    fast = holdout_intervals(model, test, target, seed=0, resamples=300)
    assert taken == [True, True]
    assert_same_intervals(fast, scored_one_by_one(model, test, target, 0, monkeypatch))


def test_three_classes_log_loss_at_once_and_auc_through_the_scorer(monkeypatch):
    train, test = classification_data(labels=("a", "b", "c"), classes=3)
    target = EvaluationTarget("label", (), ("log_loss", "accuracy", "roc_auc"), 3, None)
    model = fit_full(LogisticRegression(max_iter=1000), train, target)
    outputs = {"predict": model.predict(test), "predict_proba": model.predict_proba(test)}
    labels = test["label"].to_numpy()
    assert batch_statistic("roc_auc", outputs, labels, model.classes_) is None  # one vs rest
    assert batch_statistic("log_loss", outputs, labels, model.classes_) is not None
    taken = fast_path_taken(monkeypatch)
    fast = holdout_intervals(model, test, target, seed=1, resamples=300)
    assert taken == [True, True, False]
    assert_same_intervals(fast, scored_one_by_one(model, test, target, 1, monkeypatch))


def test_regression_metrics_at_once_match_the_scorer(monkeypatch):
    X, y = make_regression(n_samples=400, n_features=5, noise=20, random_state=2)
    frame = pd.DataFrame(X, columns=list("abcde"))
    frame["y"] = y
    target = EvaluationTarget("y", (), ("rmse", "mse", "mae", "r2", "mape"), None)
    model = fit_full(Ridge(), frame[:250], target)
    taken = fast_path_taken(monkeypatch)
    fast = holdout_intervals(model, frame[250:], target, seed=4, resamples=300)
    assert taken == [True, True, True, True, False]  # mape through the scorer
    assert_same_intervals(fast, scored_one_by_one(model, frame[250:], target, 4, monkeypatch))


def test_resamples_in_small_batches_are_the_same_resamples(monkeypatch):
    """The batch size bounds memory on a large held-out set; it must not change which rows are drawn."""
    train, test = classification_data()
    target = EvaluationTarget("label", (), ("roc_auc", "log_loss"), 2, 1)
    model = fit_full(LogisticRegression(max_iter=1000), train, target)
    whole = holdout_intervals(model, test, target, seed=7, resamples=300)
    monkeypatch.setattr(statistics_module, "BATCH_CELLS", 7 * len(test))  # 7 resamples a batch
    assert_same_intervals(holdout_intervals(model, test, target, seed=7, resamples=300), whole)


def test_a_batch_that_disagrees_with_the_scorer_is_not_used(monkeypatch):
    """The full sample's value is checked against the scorer's; a wrong fast path falls back."""
    train, test = classification_data()
    target = EvaluationTarget("label", (), ("accuracy",), 2, 1)
    model = fit_full(LogisticRegression(max_iter=1000), train, target)
    slow = scored_one_by_one(model, test, target, 2, monkeypatch)
    monkeypatch.setattr(
        interval_module,
        "batch_statistic",
        lambda *args: lambda index: np.zeros(index.shape[:-1]),
    )
    taken = fast_path_taken(monkeypatch)
    assert_same_intervals(holdout_intervals(model, test, target, seed=2, resamples=300), slow)
    assert taken == [False]
