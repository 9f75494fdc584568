"""Ctrl-C honoured at a safe point instead of wherever the main thread happens to be.

Python raises KeyboardInterrupt at the next bytecode, which may be in the middle of an MLflow write to
a SQLite store: the interrupted transaction keeps the database locked, so the controller's own
clean-up (marking the trials in flight interrupted) then fails with "database is locked" and the run
ends as a crash instead of a resumable stop. Inside ``DeferredInterrupt`` the first Ctrl-C only sets a
flag that the controller checks between steps; a second one interrupts at once, for a user who does
not want to wait.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType


class DeferredInterrupt:
    """Context manager: SIGINT becomes a request, raised as KeyboardInterrupt by ``check()``.

    Outside the main thread (signals cannot be handled there), or where SIGINT is ignored (a job started
    in the background), it changes nothing and ``check()`` never raises.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: signal.Handlers | None | object = None
        self._installed = False

    def __enter__(self) -> DeferredInterrupt:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        ):
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt  # asked twice: stop now
        self.requested = True

    def check(self) -> None:
        """Raise the Ctrl-C the user pressed since entering, here, where nothing is half-written."""
        if self.requested:
            raise KeyboardInterrupt

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._installed = False
