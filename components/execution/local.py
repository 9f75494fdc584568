"""Local executor: a pool of long-lived worker processes, one trial at a time each.

Why not ``concurrent.futures.ProcessPoolExecutor``: one crashed worker breaks that whole pool, and a
single running task cannot be killed. Here each worker is its own process with its own pipe, so a
trial that segfaults, runs out of memory or overruns its timeout costs only its own worker, which is
replaced. Workers are spawned (not forked: the controller runs Prefect's threads), ignore Ctrl-C (the
controller decides what to stop), and keep the training data and imports warm between trials.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait as wait_any

from kubetune.components.core import KubetuneError, TrialRequest, TrialResult
from kubetune.components.execution.executor import Executor

READY = "ready"
# A worker that has not finished its imports by then is stuck (a hung network mount, a GPU driver that
# never answers): its trial fails and a fresh worker takes its place, with or without a trial timeout.
STARTUP_TIMEOUT_S = 600.0


def _worker_main(conn: Connection, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        # read by torch and BLAS when (and only if) a trial imports them
        os.environ[variable] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    import sklearn.pipeline  # noqa: F401 - warm the imports every trial needs before saying ready

    from kubetune.components.evaluation import cross_validate  # noqa: F401
    from kubetune.components.execution.heartbeat import Heartbeat
    from kubetune.components.execution.trial import run_trial

    conn.send(READY)
    beating: Heartbeat | None = None
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                return  # the controller is gone
            if beating is not None:
                beating.stop()  # the controller has told the study about the previous trial
            if message is None:
                return
            request = TrialRequest.model_validate_json(message)
            beating = Heartbeat(
                request.storage_url, request.trial_id, request.heartbeat_interval
            ).start()
            conn.send(run_trial(request).model_dump_json())
    finally:
        if beating is not None:
            beating.stop()


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    trial_number: int | None = None
    started_at: float = 0.0
    ready: bool = False
    spawned_at: float = 0.0


class LocalExecutor(Executor):
    """Runs trials in ``parallelism`` local worker processes."""

    def __init__(
        self,
        parallelism: int,
        trial_timeout: float | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        self.capacity = parallelism
        self.trial_timeout = trial_timeout
        self.startup_timeout = startup_timeout
        self._threads = max(1, (os.cpu_count() or 1) // parallelism)
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []

    def start(self) -> LocalExecutor:
        """Start every worker now (returns at once), so their imports overlap with the controller's set-up."""
        while len(self._workers) < self.capacity:
            self._workers.append(self._spawn())
        return self

    def local_cores(self) -> int:
        return self._threads * self.capacity

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Block until every worker has finished its imports; returns the seconds waited."""
        started = time.monotonic()
        self.start()
        for worker in self._workers:
            if not worker.ready and worker.trial_number is None:
                remaining = max(0.0, timeout - (time.monotonic() - started))
                try:
                    if worker.conn.poll(remaining) and worker.conn.recv() == READY:
                        worker.ready = True
                except EOFError:  # it died importing: the main module, an import that crashed
                    worker.process.join(timeout=5)
                    raise KubetuneError(
                        f"a worker process exited while starting (exit code {worker.process.exitcode}); its error is printed above"
                    ) from None
        return time.monotonic() - started

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child, self._threads), daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent, spawned_at=time.monotonic())

    def submit(self, request: TrialRequest) -> None:
        self.start()
        worker = next((w for w in self._workers if w.trial_number is None), None)
        if worker is None:
            raise RuntimeError(
                f"all {self.capacity} workers are busy; wait for a result before submitting"
            )
        worker.trial_number = request.trial_number
        worker.started_at = time.monotonic()
        worker.conn.send(request.model_dump_json())

    def running(self) -> list[int]:
        return [w.trial_number for w in self._workers if w.trial_number is not None]

    def starting(self) -> list[int]:
        """A trial handed to a worker that has not said it is ready (a replacement still importing) waits
        in its pipe; the worker starts beating for it only once it reads it."""
        return [w.trial_number for w in self._workers if w.trial_number is not None and not w.ready]

    def wait(self, timeout: float) -> list[TrialResult]:
        busy = [w for w in self._workers if w.trial_number is not None]
        if not busy:
            return []
        now = time.monotonic()
        deadline = max(0.0, min([timeout] + [self._give_up_at(w) - now for w in busy]))
        ready = set(wait_any([w.conn for w in busy] + [w.process.sentinel for w in busy], deadline))
        results: list[TrialResult] = []
        for worker in busy:
            if worker.conn in ready:
                try:
                    message = worker.conn.recv()
                    if message == READY:  # a fresh worker announcing itself; its result comes later
                        worker.ready = True
                        if not worker.conn.poll():
                            continue
                        message = worker.conn.recv()
                    results.append(TrialResult.model_validate_json(message))
                    worker.trial_number = None
                    continue
                except (EOFError, OSError):
                    pass
            if worker.conn in ready or worker.process.sentinel in ready:
                results.append(self._replace(worker, _death_reason(worker.process), retryable=True))
            elif not worker.ready and time.monotonic() - worker.spawned_at >= self.startup_timeout:
                results.append(
                    self._replace(
                        worker,
                        f"worker process did not finish starting (its imports) within {self.startup_timeout:g} s",
                    )
                )
            elif (
                self.trial_timeout is not None
                and time.monotonic() - worker.started_at >= self.trial_timeout
            ):
                results.append(
                    self._replace(worker, f"trial exceeded its timeout of {self.trial_timeout:g} s")
                )
        return results

    def _give_up_at(self, worker: _Worker) -> float:
        """When a busy worker's trial is failed if no result has come: its start-up, then its trial timeout."""
        limits = [] if worker.ready else [worker.spawned_at + self.startup_timeout]
        if self.trial_timeout is not None:
            limits.append(worker.started_at + self.trial_timeout)
        return min(limits, default=float("inf"))

    def _replace(self, worker: _Worker, reason: str, retryable: bool = False) -> TrialResult:
        """Kill a worker whose trial cannot finish, report the trial failed, start a fresh worker."""
        number, elapsed = worker.trial_number, time.monotonic() - worker.started_at
        self._kill(worker)
        self._workers[self._workers.index(worker)] = self._spawn()
        return TrialResult(
            trial_number=number, state="FAIL", duration_s=elapsed, error=reason, retryable=retryable
        )

    def cancel(self, trial_number: int) -> None:
        for index, worker in enumerate(self._workers):
            if worker.trial_number == trial_number:
                self._kill(worker)
                self._workers[index] = self._spawn()

    @staticmethod
    def _kill(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()

    def close(self) -> None:
        for worker in self._workers:
            if worker.trial_number is None and worker.process.is_alive():
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        for worker in self._workers:
            if worker.trial_number is None:
                worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            self._kill(worker)
        self._workers = []

    def __enter__(self) -> LocalExecutor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _death_reason(process: multiprocessing.process.BaseProcess) -> str:
    process.join(timeout=1)
    code = process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"worker process was killed by {name}{hint}"
    return f"worker process exited with code {code} before reporting a result"
