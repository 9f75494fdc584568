"""The contract every model family implements.

A family is a tiny object (no state, no I/O) that turns sampled parameters into an unfitted
scikit-learn-compatible estimator. Cross-validation, preprocessing and scoring are not its business:
``kubetune.components.evaluation.cross_validation`` owns them, as scikit-learn's BaseSearchCV owns CV while subclasses only
generate candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable


@dataclass(frozen=True)
class Fidelity:
    """How a family trains in steps, so a pruner can stop it early: the parameter that sets the total
    (``epochs``, ``max_iter``, ``n_estimators``), the unit reported to the study, and the step size
    (one epoch; ten boosting iterations or trees, since scoring after every single tree costs more
    than it saves)."""

    param: str
    unit: str
    step: int


@runtime_checkable
class ModelFamily(Protocol):
    name: ClassVar[str]
    tasks: ClassVar[frozenset[str]]

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        """The search space used when the spec gives none, in spec syntax."""

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        """An unfitted estimator for one configuration."""


# Optional on a family: ``fidelity: Fidelity`` (trains in steps a pruner can stop), ``checkpoints = True``
# (PyTorch estimators that save and resume weights, for population-based training), ``row_bounded``
# (parameters that cannot exceed the rows a model is fitted on; kubetune.components.search.space fits the default space to them).


BOTH = frozenset({"classification", "regression"})
CLASSIFICATION = frozenset({"classification"})
REGRESSION = frozenset({"regression"})


def log_float(low: float, high: float) -> dict[str, Any]:
    return {"type": "float", "low": low, "high": high, "log": True}


def int_range(low: int, high: int, log: bool = False) -> dict[str, Any]:
    return {"type": "int", "low": low, "high": high, "log": log}


def categorical(*choices: Any, when: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "categorical", "choices": list(choices)}
    if when:
        spec["when"] = when
    return spec
