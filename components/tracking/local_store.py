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
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow import MlflowClient


def sqlite_file(uri: str) -> str | None:
    """The database file a ``sqlite:`` URI names, None for any other URI or an in-memory database."""
    if not uri.startswith("sqlite:"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(uri).database
    return database if database and database != ":memory:" else None


@contextlib.contextmanager
def first_open_lock(uri: str) -> Iterator[None]:
    """Held while MLflow opens ``uri``: an exclusive lock on the SQLite file, nothing otherwise."""
    path = sqlite_file(uri)
    folder = os.path.dirname(os.path.abspath(path)) if path else None
    if path is None or not os.path.isdir(folder or ""):  # MLflow reports a missing folder itself
        yield
        return
    # "a": creates an empty file if there is none, which SQLite opens as a new database
    with open(path, "a") as handle:
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

    with first_open_lock(uri):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        if sqlite_file(uri) is not None:
            client.search_experiments(max_results=1)
            client.search_registered_models(max_results=1)
    return client
