"""The contract every model family implements.

A family is a tiny object (no state, no I/O) that turns sampled parameters into an unfitted
scikit-learn-compatible estimator. Cross-validation, preprocessing and scoring are not its business:
``kubetune.components.evaluation.cross_validation`` owns them, as scikit-learn's BaseSearchCV owns CV while subclasses only
generate candidates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fidelity:
    """How a family trains in steps, so a pruner can stop it early: the parameter that sets the total
    (``epochs``, ``max_iter``, ``n_estimators``), the unit reported to the study, and the step size
    (one epoch; ten boosting iterations or trees, since scoring after every single tree costs more
    than it saves)."""

    param: str
    unit: str
    step: int
    # Successive halving's and Hyperband's defaults for this family. None: one in five goes on from a
    # first rung of one step (tuned on MF-Hartmann; boosting iterations and trees rank early too). A
    # neural network's early epochs rank configurations poorly -- the learning rate and the batch size
    # decide how fast it learns, not how well it ends -- so its first rung waits for a ninth of
    # training and one in three goes on (docs/benchmarks.md, multi-fidelity).
    first_rung_fraction: float | None = None
    reduction_factor: int | None = None


NEURAL_NETWORK_EPOCHS = Fidelity(
    param="epochs", unit="epoch", step=1, first_rung_fraction=1 / 9, reduction_factor=3
)

BOTH = frozenset({"classification", "regression"})
CLASSIFICATION = frozenset({"classification"})


class ModelFamily(ABC):
    """A family: its default search space and how to build an estimator, plus capabilities whose
    defaults say "not supported", so callers read them as attributes and never probe.

    ``get_family`` returns one of these for every family, a user's own included: a user's class that does
    not subclass this one is adapted (``kubetune.components.models.registry``).
    """

    name: str
    tasks: frozenset[str] = BOTH
    # trains in steps a pruner can stop (epochs, boosting iterations, trees); None: fitted in one go
    fidelity: Fidelity | None = None
    # saves and resumes weights (PyTorch), so population-based training can copy members
    checkpoints: bool = False
    # parameters that change the weights' shapes: population-based training never perturbs them
    structure: tuple[str, ...] = ()
    # parameters members must share to train fused, as one batched model (executor.packing.mode: fused):
    # the weights' shapes and the batch size; None: the family cannot train fused
    fused_structure: tuple[str, ...] | None = None
    # parameters that cannot exceed the rows a model is fitted on (kubetune.components.search.space
    # fits the default space to them)
    row_bounded: tuple[str, ...] = ()

    @abstractmethod
    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        """The search space used when the spec gives none, in spec syntax."""

    @abstractmethod
    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        """An unfitted scikit-learn-compatible estimator for one configuration."""

    def check_features(self, n_features: int, params: dict[str, Any]) -> str | None:
        """Why this family cannot train on ``n_features`` columns with these fixed parameters, or None."""
        return None


def log_float(low: float, high: float) -> dict[str, Any]:
    return {"type": "float", "low": low, "high": high, "log": True}


def int_range(low: int, high: int, log: bool = False) -> dict[str, Any]:
    return {"type": "int", "low": low, "high": high, "log": log}


def categorical(*choices: Any, when: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "categorical", "choices": list(choices)}
    if when:
        spec["when"] = when
    return spec
