"""Support vector machines, with the kernel parameters conditional on the kernel.

A regressor learns the standardized target: SVR's ``epsilon`` (the width of the tube errors within
which cost nothing) and ``C`` (the largest weight of one row) act in the target's units, so one default
space could not fit a target in dollars and one in rates. Measured on Boston housing, best of 30 TPE
trials, RMSE over the target's standard deviation, median of 5 seeds: 0.530 / 0.358 / 0.547 with the
target in hundreds / units / thousands unstandardized, 0.371 in all three standardized; over
bench/warmstart.py's 9 regression datasets, a cold 100-trial study's best RMSE (median of 5 seeds) fell
by 29% (macrodata), 16% (grunfeld) and 9% (engel) and moved by 2.2% or less on the other six
(docs/benchmarks.md, warm starts, regression).
"""

from __future__ import annotations

from typing import Any

from kubetune.components.models.base import BOTH, ModelFamily, categorical, int_range, log_float


class SVMFamily(ModelFamily):
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
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC, SVR

        if task == "classification":
            return SVC(random_state=seed, **params)
        return TransformedTargetRegressor(regressor=SVR(**params), transformer=StandardScaler())
