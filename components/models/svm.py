"""Support vector machines, with the kernel parameters conditional on the kernel."""

from __future__ import annotations

from typing import Any

from components.models.base import BOTH, categorical, int_range, log_float


class SVMFamily:
    name = "svm"
    tasks = BOTH

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        space = {
            "C": log_float(1e-3, 1e3),
            "kernel": categorical("rbf", "linear", "poly"),
            "gamma": {**log_float(1e-4, 1.0), "when": {"kernel": ["rbf", "poly"]}},
            "degree": {**int_range(2, 4), "when": {"kernel": "poly"}},
        }
        if task == "regression":
            space["epsilon"] = log_float(1e-3, 1.0)
        return space

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        from sklearn.svm import SVC, SVR

        if task == "classification":
            return SVC(random_state=seed, **params)
        return SVR(**params)
