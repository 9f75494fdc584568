"""Retrying storage calls across a database restart or a dropped connection.

Optuna's RDB storage rolls a failed transaction back and raises; calling again once the database answers
is safe. Errors that are not about the connection are raised at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("kubetune.storage")
_TRANSIENT_WORDS = (
    "connection",
    "server closed",
    "terminating",
    "could not connect",
    "timeout",
    "shutting down",
    "recovery",
)


def is_transient(error: BaseException) -> bool:
    """A lost connection anywhere in the cause chain (Optuna wraps SQLAlchemy's errors in its own)."""
    import sqlalchemy.exc

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (ConnectionError, OSError)):
            return True
        if (
            any(word in str(current).lower() for word in _TRANSIENT_WORDS)
            and "sqlalchemy" in type(current).__module__
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def retry_transient(
    call: Callable[[], T], *, budget_s: float = 120.0, what: str = "storage call"
) -> T:
    deadline, delay = time.monotonic() + budget_s, 0.25
    while True:
        try:
            return call()
        except Exception as error:
            if not is_transient(error) or time.monotonic() + delay > deadline:
                raise
            log.warning("%s failed (%s); retrying in %.1f s", what, type(error).__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
