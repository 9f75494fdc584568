"""Files that other processes may be reading while they are rewritten."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for the block to write; renamed over ``path`` when the block
    ends without an error, removed when it raises. A rename within a folder is atomic, so a reader sees
    the old file or the new one, never half of one, and a failed write keeps the last good file. The
    name is unique per process and thread: two writers of the same file never share a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        with contextlib.suppress(OSError):  # the cleanup must not hide the write's own error
            partial.unlink(missing_ok=True)
