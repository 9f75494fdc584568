"""Linear families: logistic regression (classification) and ridge (regression, or classification)."""

from __future__ import annotations

from typing import Any

from kubetune.components.models.base import (
    BOTH,
    CLASSIFICATION,
    ModelFamily,
    categorical,
    log_float,
)


class LogisticRegressionFamily(ModelFamily):
    name = "logistic_regression"
    tasks = CLASSIFICATION

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {"C": log_float(1e-4, 1e2), "class_weight": categorical(None, "balanced")}

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=2000, random_state=seed, **params)


class RidgeFamily(ModelFamily):
    name = "ridge"
    tasks = BOTH

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {"alpha": log_float(1e-4, 1e3)}

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        from sklearn.linear_model import Ridge, RidgeClassifier

        return (RidgeClassifier if task == "classification" else Ridge)(**params)
