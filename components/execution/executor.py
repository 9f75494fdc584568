"""The executor contract every backend implements; one contract test suite runs against each.

An executor owns *where* a trial runs, never *what* it runs (always
``kubetune.components.execution.trial.run_trial``) nor what the study makes of the outcome (the
controller tells the study). A trial whose process or pod dies without answering still yields a FAIL
result, with the reason, so no trial is ever lost.

The four abstract methods are the contract; the others are steps some backends need, with defaults
that are right for a backend that does not: the controller calls every one of them unconditionally.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace

from kubetune.components.core import TrialRequest, TrialResult
from kubetune.components.execution.packing import PackingPlan


class Executor(ABC):
    capacity: int  # how many trials may run at once: workers x trials per worker
    workers: int  # local workers or pods running at once
    packing: PackingPlan | None = None  # None: one trial per worker

    @property
    def group_size(self) -> int:
        """Trials one worker runs at once (executor.packing), asked and submitted together."""
        return self.packing.size if self.packing else 1

    def submit_group(self, requests: list[TrialRequest]) -> None:
        """Start trials that share one worker; a backend that packs nothing starts each on its own."""
        for request in requests:
            self.submit(request)

    def resize(self, size: int) -> None:
        """``trials: auto`` once sized from the first trial: each worker runs ``size`` trials from now on."""
        if self.packing is not None:
            self.packing = replace(self.packing, size=size, auto=False)
            self.capacity = self.workers * size

    def start(self) -> Executor:
        """Begin acquiring resources (worker processes start importing); returns at once, and self."""
        return self

    def wait_ready(self) -> float:
        """Block until the executor can run trials at full capacity; returns the seconds waited."""
        return 0.0

    def adopt(self) -> list[int]:
        """Trials of this study already running in the backend (a restarted controller's Kubernetes
        Jobs): the executor tracks them as if submitted and returns their numbers."""
        return []

    def starting(self) -> list[int]:
        """Trials in flight whose worker has not begun them yet (a local worker still importing, a pod
        waiting for a node or its image). Their worker cannot heartbeat yet, so the controller does."""
        return []

    @abstractmethod
    def submit(self, request: TrialRequest) -> None:
        """Start a trial; returns at once."""

    @abstractmethod
    def wait(self, timeout: float) -> list[TrialResult]:
        """Results of trials that finished, waiting up to ``timeout`` seconds for at least one."""

    @abstractmethod
    def running(self) -> list[int]:
        """Trial numbers in flight."""

    @abstractmethod
    def cancel(self, trial_number: int) -> None:
        """Stop a trial in flight; it yields no result."""

    def local_cores(self) -> int:
        """Cores of this machine its workers train on (local processes); 0 when trials run elsewhere."""
        return 0

    def close(self) -> None:  # noqa: B027 - a default: a backend with nothing to release keeps it
        """Stop everything and release resources; safe to call twice."""


def lost_with(cancelled: int, members: list[int], what: str) -> list[TrialResult]:
    """The other members of ``cancelled``'s group, lost with the worker or Job (``what``) that was
    stopped for it: failed as lost, so they run again with the same parameters."""
    return [
        TrialResult(
            trial_number=number,
            state="FAIL",
            error=f"its packed group's {what} was stopped for trial {cancelled}",
            retryable=True,
        )
        for number in members
        if number != cancelled
    ]
