"""Serialises "count the budget, then ask" across controllers sharing one study.

Without it two controllers can both see 199 of 200 trials used and both ask, overshooting the budget.
On PostgreSQL a session advisory lock (keyed by the study) is held on its own connection while one
controller counts and asks; elsewhere (journal file: one controller per study) it is a no-op.
Optuna wraps an RDB storage in a per-process cache (``_CachedStorage``), so the engine is looked up on
the storage it wraps: looked up on the wrapper, the lock was silently a no-op and two controllers could
overshoot the budget by one (the 201-of-200 failures in docs/reliability.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import optuna

from kubetune.components.core import rdb_engine
from kubetune.components.execution.study_locks import advisory_lock


@contextlib.contextmanager
def budget_lock(study: optuna.Study) -> Iterator[None]:
    engine = rdb_engine(study)
    if engine is None or engine.dialect.name != "postgresql":
        yield
        return
    with advisory_lock(engine, f"kubetune:{study.study_name}"):
        yield
