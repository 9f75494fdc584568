"""Every use of Optuna's private API, in one place, pinned to the Optuna release it was checked against.

kubetune needs a few things Optuna keeps private: a study's storage and id (the controller tells trials
it did not ``ask`` through ``optimize``), a trial's storage id (workers and pods report to it), the
heartbeat machinery (stale trials across processes), the RDB models (counting a study's budget in one
query) and a distribution's membership test. ``tests/unit/test_optuna_private.py`` exercises each one
against the installed Optuna and fails on a release other than ``CHECKED_OPTUNA``: upgrading Optuna
means re-reading these and moving the pin.
"""

from __future__ import annotations

from typing import Any

import optuna

# major.minor these accessors were read against (constraints.txt pins the patch)
CHECKED_OPTUNA = "5.0"


def storage_of(study: optuna.Study) -> Any:
    """The study's storage: a BaseStorage, with the heartbeat methods when it is an RDB storage."""
    return study._storage


def study_id_of(study: optuna.Study) -> int:
    return study._study_id


def trial_id_of(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    return trial._trial_id


def rdb_engine(study: optuna.Study) -> Any:
    """The SQLAlchemy engine of a study on an RDB storage (through Optuna's cache wrapper), else None."""
    storage = study._storage
    backend = getattr(storage, "_backend", storage)  # _CachedStorage wraps the RDBStorage
    return backend.engine if isinstance(backend, optuna.storages.RDBStorage) else None


def rdb_models() -> Any:
    """Optuna's ORM models (TrialModel, TrialUserAttributeModel): a stable schema, versioned by its migrations."""
    from optuna.storages._rdb import models

    return models


def heartbeat_enabled(storage: object) -> bool:
    """Whether ``storage`` records heartbeats (an RDB storage created with ``heartbeat_interval``)."""
    from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled

    return isinstance(storage, BaseHeartbeat) and is_heartbeat_enabled(storage)  # type: ignore[arg-type]


def in_distribution(distribution: optuna.distributions.BaseDistribution, value: Any) -> bool:
    """Whether ``value`` (external representation) lies in ``distribution`` -- bounds and steps."""
    return bool(distribution._contains(distribution.to_internal_repr(value)))


def pin_params(trial: optuna.Trial, params: dict[str, Any]) -> bool:
    """Fix ``params`` for a trial just asked, before its define-by-run suggestions, as
    ``enqueue_trial``'s fixed parameters would; the sampler draws the rest. A trial that has fixed
    parameters already (a re-run, a warm start) keeps them: returns False."""
    if trial._fixed_params:
        return False
    trial._fixed_params = dict(params)
    return True
