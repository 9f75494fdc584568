"""Model family lookup: built-in names, or ``package.module:Class`` for a family of your own.

Built-ins are listed by import path so that validating a spec imports neither torch nor scikit-learn.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

from kubetune.components.core import SpecError
from kubetune.components.models.base import BOTH

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
_CHECKPOINTING = frozenset({"torch_mlp", "torch_nas", "torch_cnn"})  # PyTorch: weights can be saved and resumed


def family_names() -> list[str]:
    return sorted(_BUILTIN)


def is_custom_family(name: str) -> bool:
    """``pkg.module:Class`` names a user's family; it is imported (and checked) on first use."""
    module, _, attr = name.partition(":")
    return bool(module) and bool(attr) and all(p.isidentifier() for p in module.split(".")) and attr.isidentifier()


def supports_checkpoints(name: str) -> bool:
    """Whether members of this family can resume from another's weights (population-based training)."""
    if name in _BUILTIN:
        return name in _CHECKPOINTING
    try:
        return bool(getattr(get_family(name), "checkpoints", False))
    except Exception:  # noqa: BLE001 - an unimportable family is reported by the family check itself
        return False


@lru_cache(maxsize=None)
def get_family(name: str) -> Any:
    path = _BUILTIN.get(name, name)
    module_name, _, attr = path.partition(":")
    try:
        family_cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise SpecError(f"model.family: cannot import '{name}' ({error})") from None
    family = family_cls()
    missing = [method for method in ("default_space", "build") if not callable(getattr(family, method, None))]
    if missing:
        raise SpecError(f"model.family: '{name}' has no {' or '.join(missing)} method (a family needs default_space(task) and build(params, task, seed))")
    return family


def family_tasks(family: Any) -> frozenset[str]:
    """The tasks a family does: its ``tasks`` attribute, optional for a user's family (both, when absent)."""
    return frozenset(getattr(family, "tasks", BOTH))
