"""Study-wide locks for what must happen once per study, whichever controller gets there first: handing
out controller sessions, refitting and registering the model.

PostgreSQL storage: a session advisory lock keyed by the purpose and the study, held on its own
connection (controllers on any machine). Journal file: an exclusive file lock beside the journal (the
controllers that share a journal file share a machine).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator

import optuna

from kubetune.components.core import rdb_engine
from kubetune.components.execution.budget_lock import advisory_lock
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
