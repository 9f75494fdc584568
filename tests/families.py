"""Model families used by tests to inject failures: they are real families loaded by name
(``tests.families:CrashFamily``) in real worker processes, exactly as a user's own family would be."""

from __future__ import annotations

import os
import time
from typing import Any

from sklearn.dummy import DummyClassifier, DummyRegressor

BOTH = frozenset({"classification", "regression"})


class _Base:
    tasks = BOTH

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {"x": {"type": "float", "low": 0.0, "high": 1.0}}


class _SleepyDummy(DummyClassifier):
    def __init__(self, sleep: float = 0.0, strategy: str = "prior") -> None:
        super().__init__(strategy=strategy)
        self.sleep = sleep

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.sleep)
        return super().fit(X, y, sample_weight)


class SleepFamily(_Base):
    """Trains in ``sleep`` seconds: for timeouts, interruption and overhead measurements."""

    name = "sleep"

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        if task == "regression":
            return DummyRegressor()
        return _SleepyDummy(sleep=float(params.get("sleep", 0.0)))


class CrashFamily(_Base):
    """The worker process dies (no exception, no result) when x > 0.5: a segfault or OOM kill stand-in."""

    name = "crash"

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        if params.get("x", 0) > 0.5:
            os._exit(17)
        return DummyClassifier()


class RaiseFamily(_Base):
    """Raises when x > 0.5: an ordinary bug in a configuration."""

    name = "raise"

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        if params.get("x", 0) > 0.5:
            raise RuntimeError(f"configuration x={params['x']:.3f} is broken")
        return DummyClassifier()


class DummyFamily(_Base):
    """A user's family in the usual shape: the sampled parameters go straight to the estimator."""

    name = "dummy"

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {"strategy": {"type": "categorical", "choices": ["prior", "uniform"]}}

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        return DummyClassifier(random_state=seed, **params)


class NoTasksFamily:
    """What the docs ask of a user's family and no more: default_space and build (no ``tasks``)."""

    def default_space(self, task):
        return {"strategy": {"type": "categorical", "choices": ["prior", "most_frequent"]}}

    def build(self, params, task, seed):
        return DummyClassifier(strategy=params.get("strategy", "prior"))


class NoBuildFamily:
    def default_space(self, task):
        return {}
