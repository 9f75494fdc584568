"""Environment variables set for a while and put back: a job run from a notebook shares the notebook's
process, and what it exports for itself (a URL MLflow or a worker must read) must not outlive it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def environment_put_back(names: tuple[str, ...]) -> Iterator[None]:
    """Inside the block the variables ``names`` may be set or removed at will; when it ends each is
    back to its value before it, or unset if it was unset."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
