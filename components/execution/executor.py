"""The executor contract every backend implements; one contract test suite runs against each.

An executor owns *where* a trial runs, never *what* it runs (always ``kubetune.components.execution.trial.run_trial``) nor
what the study makes of the outcome (the controller tells the study). A trial whose process or pod dies
without answering still yields a FAIL result, with the reason, so no trial is ever lost.
"""

from __future__ import annotations

from typing import Protocol

from kubetune.components.core import TrialRequest, TrialResult


class Executor(Protocol):
    capacity: int  # how many trials may run at once

    def submit(self, request: TrialRequest) -> None:
        """Start a trial; returns at once."""

    def wait(self, timeout: float) -> list[TrialResult]:
        """Results of trials that finished, waiting up to ``timeout`` seconds for at least one."""

    def running(self) -> list[int]:
        """Trial numbers in flight."""

    def starting(self) -> list[int]:
        """Trials in flight whose worker has not begun them yet (a local worker still importing, a pod
        waiting for a node or its image). Their worker cannot heartbeat yet, so the controller does."""

    def cancel(self, trial_number: int) -> None:
        """Stop a trial in flight; it yields no result."""

    def close(self) -> None:
        """Stop everything and release resources; safe to call twice."""
