"""Opening an MLflow client, with a local SQLite file's first open done by one process at a time.

MLflow creates and migrates a SQLite store's tables when a process first opens it, and its migrations
are not safe to run twice at once: two processes opening the same new file together (two studies
started in one folder, a notebook beside a running study) can leave one of them failing in a half-
applied migration. The open is therefore done under an exclusive file lock on the database file
itself. ``flock`` locks are separate from the byte-range locks SQLite takes, so this waits only for
another kubetune process's open, never for SQLite's own readers and writers; and locking the file
itself leaves nothing beside it. Server and other database URIs open as MLflow opens them: a tracking
server migrates its store once, at its own start.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow import MlflowClient

SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def sqlite_file(uri: str) -> str | None:
    """The database file a ``sqlite:`` URI names (SQLAlchemy's form: three slashes, then a relative
    path or a fourth slash and an absolute one), None for any other URI or an in-memory database.
    Parsed by hand: preflight reads it, and ``kubetune validate`` imports no database library."""
    scheme, separator, rest = uri.partition("://")
    if not separator or scheme.split("+")[0] != "sqlite":
        return None
    database = rest.split("?", 1)[0]
    if not database.startswith("/"):  # "sqlite://": in memory
        return None
    database = database[1:]
    return database if database and database != ":memory:" else None


def is_in_memory(uri: str) -> bool:
    """``sqlite://`` or ``sqlite:///:memory:``: a store that is gone when the process ends."""
    return uri.partition("://")[0].split("+")[0] == "sqlite" and sqlite_file(uri) is None


def database_file_problem(path: str) -> str | None:
    """Why a local MLflow database at ``path`` could not be opened for writing, or None.

    An existing file is opened for reading and writing and left as it is; it must be empty (a new
    database) or a SQLite database. A new one needs a folder it
    can be created in: the nearest folder that exists gets a temporary file, removed again (MLflow
    creates the missing folders below it). Trying is the only answer that holds for root too, whom
    permission bits do not stop and a read-only or virtual file system does."""
    target = Path(path).absolute()
    if target.exists():
        if not target.is_file():
            return f"{path} is not a file"
        try:
            with open(target, "r+b") as handle:
                header = handle.read(len(SQLITE_HEADER))
        except OSError as error:
            return f"cannot write {path} ({error.strerror or type(error).__name__})"
        # an empty file is a new database to SQLite; any other must begin with SQLite's header
        if header and header != SQLITE_HEADER:
            return f"{path} is not a SQLite database (it does not begin with SQLite's header)"
        return None
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        return f"cannot create {path}: {folder} is not a folder"
    try:
        with tempfile.TemporaryFile(dir=folder):
            return None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return f"cannot create {path}: no file can be created in {folder} ({reason})"


@contextlib.contextmanager
def first_open_lock(path: str | None) -> Iterator[None]:
    """Held while MLflow opens a store: an exclusive lock on its SQLite file ``path``; nothing for
    another store (None)."""
    if path is None:
        yield
        return
    # the folders MLflow would create, then "a": an empty file where there is none, which SQLite opens
    # as a new database; where that fails, MLflow's own open fails too, with its error (preflight's
    # check of the tracking URI names it before any of this)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        handle = open(path, "a")
    except OSError:
        handle = None
    if handle is None:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_client(uri: str) -> MlflowClient:
    """A client for ``uri`` as both tracking and registry store, whose tables exist when it returns.

    For a SQLite file both stores are opened here, under the lock (the registry store is otherwise
    opened on first use, outside it). MLflow keeps each opened store for the process, so later clients
    for the same URI reuse them."""
    from mlflow import MlflowClient

    path = sqlite_file(uri)
    with first_open_lock(path):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        if path is not None:
            client.search_experiments(max_results=1)
            client.search_registered_models(max_results=1)
    return client
