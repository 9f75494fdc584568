"""Benchmark-only model family: a constant predictor that optionally sleeps, so the objective costs
(almost) nothing and what is measured is kubetune itself."""

from __future__ import annotations

import time
from typing import Any

from sklearn.dummy import DummyClassifier


class _Sleeper(DummyClassifier):
    def __init__(self, sleep: float = 0.0) -> None:
        super().__init__(strategy="prior")
        self.sleep = sleep

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.sleep)
        return super().fit(X, y, sample_weight)


class NoopFamily:
    name = "noop"
    tasks = frozenset({"classification"})

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {"x": {"type": "float", "low": 0.0, "high": 1.0}}

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        return _Sleeper(sleep=float(params.get("sleep", 0.0)))
