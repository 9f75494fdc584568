"""kubetune: hyperparameter tuning for teams that train models on Kubernetes.

The Python entry points; each is imported on first use, so ``import kubetune`` costs nothing:

- ``kubetune.tune(spec, **overrides) -> StudyResult``: a tuning job as ``kubetune tune`` runs it
  (kubetune.flows.api);
- ``kubetune.KubetuneSearchCV``: scikit-learn's search API on kubetune's samplers, local or as
  Kubernetes Jobs (kubetune.components.estimators);
- ``kubetune.KubetuneError``: every error a user can act on, with a one-line message.

The library itself is ``kubetune.components`` (never imports Prefect); the flows and the CLI are
``kubetune.flows``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "tune": "kubetune.flows.api",
    "StudyResult": "kubetune.flows.api",
    "TuningFailed": "kubetune.flows.api",
    "KubetuneSearchCV": "kubetune.components.estimators",
    "KubetuneError": "kubetune.components.core",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kubetune' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
