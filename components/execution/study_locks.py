"""Study-wide locks for what must happen once per study, whichever controller gets there first: handing
out controller sessions, refitting and registering the model.

PostgreSQL storage: a session advisory lock keyed by the purpose and the study, held on its own
connection (controllers on any machine). Journal file: an exclusive file lock beside the journal (the
controllers that share a journal file share a machine).
"""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from collections.abc import Iterator
from typing import Any

import optuna

from kubetune.components.core import rdb_engine
from kubetune.components.execution.storage import journal_path


@contextlib.contextmanager
def study_lock(study: optuna.Study, storage_url: str, purpose: str) -> Iterator[None]:
    path = journal_path(storage_url)
    if path is not None:
        with open(f"{path}.{purpose}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    engine = rdb_engine(study)
    if engine is None or engine.dialect.name != "postgresql":
        yield
        return
    with advisory_lock(engine, f"kubetune:{purpose}:{study.study_name}"):
        yield


@contextlib.contextmanager
def advisory_lock(engine: Any, name: str) -> Iterator[None]:
    """PostgreSQL's session advisory lock named ``name``, held on a connection of its own."""
    from sqlalchemy import text

    key = zlib.crc32(name.encode())
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
