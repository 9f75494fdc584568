"""Model family lookup: built-in names, or ``package.module:Class`` for a family of your own.

Built-ins are listed by import path so that validating a spec imports neither torch nor scikit-learn.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from kubetune.components.core import SpecError
from kubetune.components.models.base import BOTH, ModelFamily

_BUILTIN: dict[str, str] = {
    "logistic_regression": "kubetune.components.models.linear:LogisticRegressionFamily",
    "ridge": "kubetune.components.models.linear:RidgeFamily",
    "svm": "kubetune.components.models.svm:SVMFamily",
    "random_forest": "kubetune.components.models.trees:RandomForestFamily",
    "hist_gradient_boosting": "kubetune.components.models.trees:HistGradientBoostingFamily",
    "knn": "kubetune.components.models.knn:KNNFamily",
    "torch_mlp": "kubetune.components.models.torch_mlp:TorchMLPFamily",
    "torch_nas": "kubetune.components.models.torch_nas:TorchNASFamily",
    "torch_cnn": "kubetune.components.models.torch_nas:TorchCNNFamily",
}


def family_names() -> list[str]:
    return sorted(_BUILTIN)


def is_custom_family(name: str) -> bool:
    """``pkg.module:Class`` names a user's family; it is imported (and checked) on first use."""
    module, _, attr = name.partition(":")
    return (
        bool(module)
        and bool(attr)
        and all(p.isidentifier() for p in module.split("."))
        and attr.isidentifier()
    )


def supports_checkpoints(name: str) -> bool:
    """Whether members of this family can resume from another's weights (population-based training).
    Imports the family: only a population-based spec asks, and its family is a PyTorch one anyway."""
    try:
        return get_family(name).checkpoints
    except SpecError:  # an unimportable family is reported by the family check itself
        return False


def supports_fusion(name: str) -> bool:
    """Whether several configurations of this family can train as one batched model
    (``executor.packing.mode: fused``). Imports the family: only a spec that packs trials asks."""
    try:
        return get_family(name).fused_structure is not None
    except SpecError:
        return False


@cache
def get_family(name: str) -> ModelFamily:
    path = _BUILTIN.get(name, name)
    module_name, _, attr = path.partition(":")
    try:
        family_cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise SpecError(f"model.family: cannot import '{name}' ({error})") from None
    if isinstance(family_cls, type) and issubclass(family_cls, ModelFamily):
        return family_cls()
    return _adapt(name, family_cls())


class _UserFamily(ModelFamily):
    """A user's family that does not subclass ModelFamily (the documented minimum is ``default_space``
    and ``build``): its optional capabilities are read here, once, with the base class's defaults."""

    def __init__(self, family: Any) -> None:
        self._family = family
        self.name = str(getattr(family, "name", type(family).__name__))
        self.tasks = frozenset(getattr(family, "tasks", BOTH))
        self.fidelity = getattr(family, "fidelity", None)
        self.checkpoints = bool(getattr(family, "checkpoints", False))
        self.structure = tuple(getattr(family, "structure", ()))
        self.row_bounded = tuple(getattr(family, "row_bounded", ()))

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        return self._family.default_space(task)

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        return self._family.build(params, task, seed)

    def check_features(self, n_features: int, params: dict[str, Any]) -> str | None:
        check = getattr(self._family, "check_features", None)
        return None if check is None else check(n_features, params)


def _adapt(name: str, family: Any) -> ModelFamily:
    missing = [
        method
        for method in ("default_space", "build")
        if not callable(getattr(family, method, None))
    ]
    if missing:
        raise SpecError(
            f"model.family: '{name}' has no {' or '.join(missing)} method (a family needs default_space(task) and build(params, task, seed))"
        )
    return _UserFamily(family)
