import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from kubetune.components.core import EvaluationTarget
from kubetune.components.data.frames import read_source
from kubetune.components.evaluation.cross_validation import (
    cross_validate,
    fit_full,
    make_pipeline,
    score_holdout,
)


class RecordsWhatItSees(ClassifierMixin, BaseEstimator):
    """Records the (already preprocessed) training matrix of each fit."""

    seen: list = []

    def fit(self, X, y):
        RecordsWhatItSees.seen.append(np.asarray(X).copy())
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_preprocessing_is_fitted_inside_each_fold():
    """A scaler fitted on the fold's own training rows gives them mean 0 exactly; one fitted on all rows would not."""
    RecordsWhatItSees.seen = []
    frame = read_source("sklearn:breast_cancer")
    cross_validate(
        RecordsWhatItSees(),
        frame,
        target=EvaluationTarget("target", (), ("accuracy",), 2),
        strategy="stratified_kfold",
        folds=4,
        val_size=0.2,
        seed=0,
    )
    assert len(RecordsWhatItSees.seen) == 4
    for matrix in RecordsWhatItSees.seen:
        assert np.abs(matrix.mean(axis=0)).max() < 1e-9
        assert len(matrix) < len(frame)


def test_scores_are_in_natural_units_per_fold():
    from sklearn.linear_model import Ridge

    frame = read_source("sklearn:diabetes")
    result = cross_validate(
        Ridge(),
        frame,
        target=EvaluationTarget("target", (), ("rmse", "r2"), None),
        strategy="kfold",
        folds=3,
        val_size=0.2,
        seed=0,
    )
    assert len(result.fold_scores["rmse"]) == 3
    assert all(40 < s < 80 for s in result.fold_scores["rmse"])  # positive, in target units
    assert 0.3 < result.mean("r2") < 0.6


def test_fold_callback_sees_the_running_mean():
    from sklearn.linear_model import LogisticRegression

    calls = []
    frame = read_source("sklearn:iris")
    result = cross_validate(
        LogisticRegression(max_iter=500),
        frame,
        target=EvaluationTarget("target", (), ("accuracy",), 3),
        strategy="holdout",
        folds=5,
        val_size=0.3,
        seed=0,
        on_fold=lambda i, v: calls.append((i, v)),
    )
    assert calls == [(0, result.mean("accuracy"))]


def test_holdout_score_uses_the_multiclass_scorer():
    from sklearn.linear_model import LogisticRegression

    frame = read_source("sklearn:iris")
    model = fit_full(
        LogisticRegression(max_iter=500), frame.iloc[::2], EvaluationTarget("target", (), (), 3)
    )
    scores = score_holdout(
        model, frame.iloc[1::2], EvaluationTarget("target", (), ("roc_auc", "accuracy"), 3)
    )
    assert 0.9 < scores["roc_auc"] <= 1.0 and 0.8 < scores["accuracy"] <= 1.0


def test_categorical_features_and_dropped_columns():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"id": range(80), "colour": rng.choice(["red", "blue"], 80), "x": rng.normal(size=80)}
    )
    frame["target"] = (frame["colour"] == "red").astype(int)
    from sklearn.tree import DecisionTreeClassifier

    result = cross_validate(
        DecisionTreeClassifier(random_state=0),
        frame,
        target=EvaluationTarget("target", ("id",), ("accuracy",), 2),
        strategy="kfold",
        folds=4,
        val_size=0.2,
        seed=0,
    )
    assert result.mean("accuracy") == 1.0


def test_two_string_classes_score_the_positive_class_the_study_chose():
    """On labels such as churned / stayed, f1, precision, recall and average precision failed every trial
    ("pos_label=1 is not a valid label"); now they score the study's positive class, as scikit-learn
    does when told which one it is."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, f1_score, recall_score

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300)})
    frame["outcome"] = np.where(
        frame["x"] + rng.normal(scale=0.8, size=300) > 0.6, "churned", "stayed"
    )
    model = make_pipeline(LogisticRegression()).fit(frame[["x"]], frame["outcome"])
    predicted, proba = model.predict(frame[["x"]]), model.predict_proba(frame[["x"]])
    for positive, column in (("churned", 0), ("stayed", 1)):
        scores = score_holdout(
            model,
            frame,
            EvaluationTarget("outcome", (), ("f1", "recall", "average_precision"), 2, positive),
        )
        assert scores["f1"] == pytest.approx(
            f1_score(frame["outcome"], predicted, pos_label=positive)
        )
        assert scores["recall"] == pytest.approx(
            recall_score(frame["outcome"], predicted, pos_label=positive)
        )
        assert scores["average_precision"] == pytest.approx(
            average_precision_score(frame["outcome"] == positive, proba[:, column])
        )
    churned, stayed = (
        score_holdout(model, frame, EvaluationTarget("outcome", (), ("f1",), 2, p))["f1"]
        for p in ("churned", "stayed")
    )
    assert churned < stayed  # the rarer class is the harder one: the choice shows in the number
