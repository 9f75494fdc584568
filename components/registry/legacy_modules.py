"""Models registered before kubetune was installed as ``kubetune.components``: loading through an alias.

kubetune 0.1 installed top-level packages named ``components`` and ``flows``; a registered PyTorch
model's pickle names its classes by that path (``components.models.torch_mlp.TorchMLPClassifier``).
Only the model families' modules are ever pickled, and they kept their names under the new prefix, so
while ``legacy_module_aliases()`` is active ``components.models.X`` imports as
``kubetune.components.models.X``. kubetune scores a champion through it (retraining); a user loading
such a model in their own code does the same::

    from kubetune.components.registry import legacy_module_aliases
    with legacy_module_aliases():
        model = mlflow.sklearn.load_model("models:/churn@champion")

Without it, loading fails with ``No module named 'components'``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator
from types import ModuleType

LEGACY_PREFIX = "components"
CURRENT_PREFIX = "kubetune.components"
# what a pre-0.2 pickle can name: the package path down to the model families' modules
_ALIASED = ("components", "components.models")


def current_name(legacy: str) -> str | None:
    """``components.models.torch_mlp`` -> ``kubetune.components.models.torch_mlp``; None for other names."""
    if legacy in _ALIASED or legacy.startswith("components.models."):
        return CURRENT_PREFIX + legacy.removeprefix(LEGACY_PREFIX)
    return None


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The module is the current one, already executed."""


class _LegacyFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        current = current_name(fullname)
        if current is None:
            return None
        module = importlib.import_module(current)
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(current), is_package=hasattr(module, "__path__")
        )


@contextlib.contextmanager
def legacy_module_aliases() -> Iterator[None]:
    """``components.models.*`` imports as ``kubetune.components.models.*`` inside the block; the aliases
    are gone afterwards, so nothing else in the process sees a top-level ``components``."""
    finder = _LegacyFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [
            n for n in sys.modules if n == LEGACY_PREFIX or n.startswith(LEGACY_PREFIX + ".")
        ]:
            if current_name(name) is not None:
                del sys.modules[name]
