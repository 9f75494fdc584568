"""Serialises "count the budget, then ask" across controllers sharing one study.

Without it two controllers can both see 199 of 200 trials used and both ask, overshooting the budget.
On PostgreSQL a session advisory lock (keyed by the study) is held on its own connection while one
controller counts and asks; elsewhere (journal file: one controller per study) it is a no-op.
"""

from __future__ import annotations

import contextlib
import zlib
from typing import Iterator

import optuna


@contextlib.contextmanager
def budget_lock(study: optuna.Study) -> Iterator[None]:
    engine = getattr(study._storage, "engine", None)
    if engine is None or engine.dialect.name != "postgresql":
        yield
        return
    from sqlalchemy import text

    key = zlib.crc32(f"kubetune:{study.study_name}".encode())
    connection = engine.connect()
    try:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        yield
    finally:
        try:  # if the connection died (database restart) the server has already released the lock
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()
        except Exception:  # noqa: BLE001
            connection.invalidate()
        finally:
            connection.close()
