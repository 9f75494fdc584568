"""A running trial's heartbeat: proof, in the shared study storage, that its worker is alive.

Any controller sharing the study fails (and re-queues) a trial whose heartbeat is older than the grace
period, so a trial lost with its process, pod or node is noticed even when the controller that started
it is gone too. Storages without heartbeat support (the local journal file) make this a no-op.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from functools import lru_cache

from kubetune.components.core import heartbeat_enabled
from kubetune.components.execution.storage import open_storage


@lru_cache(maxsize=4)
def shared_storage(url: str):
    return open_storage(url)


def supports_heartbeat(storage: object) -> bool:
    return heartbeat_enabled(storage)


class Heartbeat:
    """Beats for one trial from a background thread until stopped.

    A local worker stops it only when the controller sends its next message, i.e. after the controller
    has told the study: a finished trial waiting for its result to be read must not look abandoned.
    """

    def __init__(self, storage_url: str | None, trial_id: int | None, interval: float) -> None:
        self.storage_url = storage_url
        self.trial_id = trial_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        if not self.storage_url or self.trial_id is None:
            return self
        storage = shared_storage(self.storage_url)
        if not supports_heartbeat(storage):
            return self

        def beat() -> None:
            while True:
                try:
                    storage.record_heartbeat(self.trial_id)
                except Exception:  # noqa: BLE001 - a missed beat is retried; the grace period absorbs it
                    pass
                if self._stop.wait(self.interval):
                    return

        self._thread = threading.Thread(target=beat, name=f"heartbeat-{self.trial_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


@contextlib.contextmanager
def heartbeat(storage_url: str | None, trial_id: int | None, interval: float) -> Iterator[None]:
    """Beats for the duration of the block (a pod, which exits when its trial is done)."""
    beating = Heartbeat(storage_url, trial_id, interval).start()
    try:
        yield
    finally:
        beating.stop()
