"""Tree ensembles: random forest and histogram gradient boosting."""

from __future__ import annotations

from typing import Any

from kubetune.components.models.base import (
    BOTH,
    Fidelity,
    ModelFamily,
    categorical,
    int_range,
    log_float,
)


class RandomForestFamily(ModelFamily):
    name = "random_forest"
    tasks = BOTH
    fidelity = Fidelity(param="n_estimators", unit="tree", step=10)

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        space = {
            "n_estimators": int_range(50, 300, log=True),
            "max_depth": int_range(2, 32),
            "min_samples_leaf": int_range(1, 20, log=True),
            "max_features": categorical("sqrt", "log2", 1.0),
        }
        if task == "classification":
            space["criterion"] = categorical("gini", "entropy")
        return space

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
        return cls(random_state=seed, n_jobs=1, **params)


class HistGradientBoostingFamily(ModelFamily):
    name = "hist_gradient_boosting"
    tasks = BOTH
    fidelity = Fidelity(param="max_iter", unit="iteration", step=10)

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {
            "learning_rate": log_float(0.01, 0.3),
            "max_iter": int_range(50, 500, log=True),
            "max_leaf_nodes": int_range(8, 128, log=True),
            "min_samples_leaf": int_range(5, 100, log=True),
            "l2_regularization": log_float(1e-8, 10.0),
        }

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = (
            HistGradientBoostingClassifier
            if task == "classification"
            else HistGradientBoostingRegressor
        )
        return cls(random_state=seed, early_stopping=False, **params)
