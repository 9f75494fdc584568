"""Study storage: a URL becomes the Optuna storage that every worker shares.

- no URL: a journal file under ``.kubetune/`` (safe for several processes on one machine);
- ``journal:///abs/path`` or a ``*.journal`` path: the same, elsewhere;
- ``postgresql://...``: Optuna's RDB storage with heartbeats, for pods and several machines.

SQLite is refused: Optuna's FAQ warns against it with parallel writers, and a study grows them.
``KUBETUNE_STORAGE_URL`` wins over the spec so a deployment can point every job at one database.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import optuna

from kubetune.components.core import SpecError, masked_password_problem, redact_text, redact_url
from kubetune.components.execution.requeue import requeue_stale_trial

DEFAULT_JOURNAL = Path(".kubetune") / "studies.journal"
HEARTBEAT_SECONDS = 10


def storage_url(spec_url: str | None) -> str:
    return (
        os.environ.get("KUBETUNE_STORAGE_URL")
        or spec_url
        or f"journal://{DEFAULT_JOURNAL.resolve()}"
    )


def journal_path(url: str) -> Path | None:
    if url.startswith("journal://"):
        return Path(url.removeprefix("journal://"))
    if url.endswith(".journal") and "://" not in url:
        return Path(url)
    return None


def check_storage_url(url: str) -> None:
    if problem := masked_password_problem(url, "storage.url", "KUBETUNE_STORAGE_URL"):
        raise SpecError(problem)
    if url.startswith("sqlite"):
        raise SpecError(
            "storage.url: SQLite is not safe for parallel trials; use a journal file or PostgreSQL"
        )
    if journal_path(url) is None and not url.startswith(("postgresql", "mysql")):
        raise SpecError(
            f"storage.url: unsupported study storage '{redact_url(url)}' (journal:// or postgresql://)"
        )


def open_storage(
    url: str, heartbeat_interval: int = HEARTBEAT_SECONDS, grace_period: int | None = None
) -> optuna.storages.BaseStorage:
    """Journal file or RDB; an RDB storage gets heartbeats, and stale trials are re-queued (kubetune.components.execution.requeue)."""
    check_storage_url(url)
    path = journal_path(url)
    if path is not None:
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(
            JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        )
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings(
        "ignore", message="Heartbeat of storage is supposed to be used with Study.optimize"
    )
    key = (url, heartbeat_interval, grace_period)
    with _OPEN_LOCK:
        if key in _OPEN_RDB:
            return _OPEN_RDB[key]
    for attempt in range(SCHEMA_RACE_ATTEMPTS):
        try:
            with _schema_creation_lock(url):
                storage = _rdb_storage(url, heartbeat_interval, grace_period)
            with _OPEN_LOCK:
                return _OPEN_RDB.setdefault(key, storage)
        except Exception as error:  # noqa: BLE001 - SQLAlchemy raises many types for one cause
            if _lost_schema_race(error) and attempt + 1 < SCHEMA_RACE_ATTEMPTS:
                time.sleep(0.5 * (attempt + 1))
                continue
            raise SpecError(
                f"storage.url: cannot open {redact_url(url)}: {_first_line(error)}"
            ) from None
    raise AssertionError("unreachable")


SCHEMA_RACE_ATTEMPTS = 4
# One RDB storage (one SQLAlchemy engine and its small pool) per database and settings in a process, as
# SQLAlchemy intends: a worker that opened a storage per trial for its heartbeat and result, or a
# script polling a study, kept each engine's connections until the garbage collector found it, and a
# long run used up the server's max_connections ("sorry, too many clients already").
_OPEN_RDB: dict[tuple[str, int, int | None], optuna.storages.RDBStorage] = {}
_OPEN_LOCK = threading.Lock()


def _lost_schema_race(error: BaseException) -> bool:
    """Two controllers opening a new database at once both create Optuna's tables. On PostgreSQL the
    advisory lock below orders them; on another server the one that loses gets a unique violation
    or "already exists" (an enum type, a table), and finds the tables made when it tries again."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    chain = (error, error.__cause__, error.__context__)
    return any(isinstance(e, IntegrityError) for e in chain) or any(
        isinstance(e, ProgrammingError) and "already exists" in str(e) for e in chain
    )


@contextlib.contextmanager
def _schema_creation_lock(url: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock while Optuna creates its schema in a new database.

    Optuna's ``create_all`` is not safe against a second process doing the same at the same moment:
    PostgreSQL creates enum types (``studydirection``) outside the table check, and the loser fails with
    ``DuplicateObject`` -- seen when two controllers of one study start together on a fresh database.
    A database that has the schema already (every open but the first) takes no lock: a process frozen
    while holding it (SIGSTOP, a paused node) must not stall every worker's first open. The wait is
    bounded too; past it, the schema-race retry above covers the rare case.
    """
    if not url.startswith("postgresql"):
        yield
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(
        url,
        poolclass=sqlalchemy.pool.NullPool,
        connect_args={"connect_timeout": 5},
        isolation_level="AUTOCOMMIT",
    )
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                sqlalchemy.text("SELECT to_regclass('version_info') IS NOT NULL")
            ).scalar()
            locked = False
            if not exists:
                connection.execute(sqlalchemy.text(f"SET lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
                try:
                    connection.execute(
                        sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY}
                    )
                    locked = True
                except sqlalchemy.exc.OperationalError:
                    pass  # another opener holds it too long: go on, the retry covers it
            try:
                yield
            finally:
                if locked:
                    connection.execute(
                        sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY}
                    )
    finally:
        engine.dispose()


LOCK_WAIT_SECONDS = 30
# A fixed 63-bit key: the lock only orders kubetune's schema creation within one database.
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"kubetune.optuna-schema").digest()[:8], "big") >> 1


def _rdb_storage(
    url: str, heartbeat_interval: int, grace_period: int | None
) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(
        url,
        # small pools: a controller needs two connections at once (budget lock + ask), a worker one;
        # with many workers and pods the server's max_connections is the limit that matters
        engine_kwargs={
            "pool_pre_ping": True,
            "pool_size": 2,
            "max_overflow": 2,
            "connect_args": {"connect_timeout": 5},
        },
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period or 3 * heartbeat_interval,
        heartbeat_stale_trial_callback=requeue_stale_trial,
    )


def _first_line(error: BaseException) -> str:
    """The driver's own words (``connection refused``, ``password authentication failed``), redacted."""
    cause = error.__cause__ or error
    text = str(getattr(cause, "orig", None) or cause).strip().splitlines()
    return redact_text(f"{type(cause).__name__}: {text[0] if text else ''}")[:300]
