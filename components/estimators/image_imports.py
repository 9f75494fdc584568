"""Which of an estimator's classes a trial image cannot import, found before any Job is created.

A batch reaches its pod cloudpickled: classes and functions defined in a notebook or script
(``__main__``) travel by value, everything else by reference, and the pod must import it. The trial image
holds kubetune and its dependencies (``kubetune[worker]``, as infra/build-images.sh installs them), so
a reference to any other package (xgboost, a team's own library) would fail in every pod after the
Jobs were made; it is named here instead, in one line. Pure but for reading installed metadata.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib import metadata
from typing import Any

IMAGE_DISTRIBUTION = "kubetune"
IMAGE_EXTRAS = frozenset({"worker"})


def foreign_references(objects: Iterable[Any], image_modules: Iterable[str]) -> list[str]:
    """``module.QualName`` of every class or function reachable from ``objects`` (estimators and their
    parameters, deeply) whose top-level module is neither in the image nor defined in ``__main__``."""
    allowed = set(image_modules) | {"__main__", "builtins"}
    found: dict[str, None] = {}
    for reference in _references(objects):
        module = getattr(reference, "__module__", None) or ""
        if module.split(".")[0] not in allowed:
            found[f"{module}.{getattr(reference, '__qualname__', reference)}"] = None
    return list(found)


def _references(objects: Iterable[Any], depth: int = 0) -> Iterator[Any]:
    if depth > 20:
        return
    for value in objects:
        if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
            yield value
            continue
        if isinstance(value, str | bytes | int | float | bool | type(None)):
            continue
        if isinstance(value, Mapping):
            yield from _references(list(value.keys()) + list(value.values()), depth + 1)
            continue
        if isinstance(value, list | tuple | set | frozenset):
            yield from _references(value, depth + 1)
            continue
        if type(value).__module__.split(".")[0] in ("numpy", "pandas"):
            continue  # data, not code
        yield type(value)
        get_params = getattr(value, "get_params", None)
        if callable(get_params):
            try:
                params = get_params(deep=False)
            except Exception:  # noqa: BLE001 - not a scikit-learn estimator after all
                continue
            yield from _references(params.values(), depth + 1)


@cache
def image_modules() -> frozenset[str]:
    """Top-level modules the trial image can import: the standard library, kubetune and every
    distribution ``kubetune[worker]`` requires, transitively (read from this installation, which the
    image's pins match)."""
    names = set(sys.stdlib_module_names) | {"kubetune"}
    providers = metadata.packages_distributions()
    distributions = _closure(IMAGE_DISTRIBUTION, IMAGE_EXTRAS)
    for module, owners in providers.items():
        if any(_normal(owner) in distributions for owner in owners):
            names.add(module)
    return frozenset(names)


def _closure(root: str, extras: frozenset[str]) -> set[str]:
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        if _normal(name) in seen:
            continue
        seen.add(_normal(name))
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({"extra": extra}) for extra in (wanted or {""})
            ):
                continue
            todo.append((requirement.name, frozenset(requirement.extras)))
    return seen


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
