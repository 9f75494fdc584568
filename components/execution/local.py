"""Local executor: a pool of long-lived worker processes, one trial at a time each.

Packing (``executor.packing``): with ``processes`` each of the ``parallelism`` workers is K processes,
one trial each, sharing the machine's GPU; with ``fused`` each worker is one process that trains its
group of K trials as one batched model (kubetune.components.execution.fused_group). A worker's message
is always a list of requests and its answer a list of results, one per member.

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
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait as wait_any

from pydantic import TypeAdapter

from kubetune.components.core import KubetuneError, TrialRequest, TrialResult
from kubetune.components.execution.executor import Executor, lost_with
from kubetune.components.execution.packing import PackingPlan

REQUESTS = TypeAdapter(list[TrialRequest])
RESULTS = TypeAdapter(list[TrialResult])

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
    from kubetune.components.execution.fused_group import run_fused_group
    from kubetune.components.execution.heartbeat import Heartbeat
    from kubetune.components.execution.trial import run_trial

    conn.send(READY)
    beating: list[Heartbeat] = []
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                return  # the controller is gone
            for beat in beating:
                beat.stop()  # the controller has told the study about the previous trials
            if message is None:
                return
            requests = REQUESTS.validate_json(message)
            beating = [
                Heartbeat(r.storage_url, r.trial_id, r.heartbeat_interval).start() for r in requests
            ]
            if len(requests) > 1:
                results = run_fused_group(requests)
            else:
                results = [run_trial(requests[0])]
            conn.send(RESULTS.dump_json(results).decode())
    finally:
        for beat in beating:
            beat.stop()


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    trial_numbers: list[int] = field(default_factory=list)  # empty: idle
    started_at: float = 0.0
    ready: bool = False
    spawned_at: float = 0.0


class LocalExecutor(Executor):
    """Runs trials in ``parallelism`` local workers, each running ``group_size`` trials at once
    (``fused``: one process per worker; otherwise one process per trial)."""

    def __init__(
        self,
        parallelism: int,
        trial_timeout: float | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_S,
        packing: PackingPlan | None = None,
    ) -> None:
        self.workers = parallelism
        self.packing = packing
        self.capacity = parallelism * self.group_size
        self.trial_timeout = trial_timeout
        self.startup_timeout = startup_timeout
        self._size_processes()
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._lost: list[TrialResult] = []  # members of a group whose worker was killed for another
        self._packed: set[int] = set()  # trials submitted in a group of several, while in flight

    @property
    def fused(self) -> bool:
        return self.packing is not None and self.packing.mode == "fused"

    def _size_processes(self) -> None:
        """A process per worker when fused, else a process per trial slot; the cores split among them."""
        self._processes = self.workers if self.fused else self.capacity
        self._threads = max(1, (os.cpu_count() or 1) // self._processes)

    def resize(self, size: int) -> None:
        super().resize(size)
        self._size_processes()
        self.start()  # the added trial processes start importing now

    def start(self) -> LocalExecutor:
        """Start every worker now (returns at once), so their imports overlap with the controller's set-up."""
        while len(self._workers) < self._processes:
            self._workers.append(self._spawn())
        return self

    def local_cores(self) -> int:
        return self._threads * self._processes

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Block until every worker has finished its imports; returns the seconds waited."""
        started = time.monotonic()
        self.start()
        for worker in self._workers:
            if not worker.ready and not worker.trial_numbers:
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
        self.submit_group([request])

    def submit_group(self, requests: list[TrialRequest]) -> None:
        """Fused: the whole group to one worker process. Otherwise each trial to its own process."""
        self.start()
        batches = [requests] if self.fused and len(requests) > 1 else [[r] for r in requests]
        idle = [w for w in self._workers if not w.trial_numbers]
        if len(idle) < len(batches):
            raise RuntimeError(
                f"all {self.capacity} trial slots are busy; wait for a result before submitting"
            )
        if len(requests) > 1:
            self._packed.update(r.trial_number for r in requests)
        for worker, batch in zip(idle, batches):
            worker.trial_numbers = [r.trial_number for r in batch]
            worker.started_at = time.monotonic()
            worker.conn.send(REQUESTS.dump_json(batch).decode())

    def running(self) -> list[int]:
        return [n for w in self._workers for n in w.trial_numbers]

    def starting(self) -> list[int]:
        """A trial handed to a worker that has not said it is ready (a replacement still importing) waits
        in its pipe; the worker starts beating for it only once it reads it."""
        return [n for w in self._workers if not w.ready for n in w.trial_numbers]

    def wait(self, timeout: float) -> list[TrialResult]:
        results, self._lost = self._lost, []
        busy = [w for w in self._workers if w.trial_numbers]
        if not busy or results:
            return results
        now = time.monotonic()
        deadline = max(0.0, min([timeout] + [self._give_up_at(w) - now for w in busy]))
        ready = set(wait_any([w.conn for w in busy] + [w.process.sentinel for w in busy], deadline))
        for worker in busy:
            if worker.conn in ready:
                try:
                    message = worker.conn.recv()
                    if message == READY:  # a fresh worker announcing itself; its result comes later
                        worker.ready = True
                        if not worker.conn.poll():
                            continue
                        message = worker.conn.recv()
                    results.extend(RESULTS.validate_json(message))
                    self._packed.difference_update(worker.trial_numbers)
                    worker.trial_numbers = []
                    continue
                except (EOFError, OSError):
                    pass
            if worker.conn in ready or worker.process.sentinel in ready:
                results.extend(self._replace(worker, _death_reason(worker.process), retryable=True))
            elif not worker.ready and time.monotonic() - worker.spawned_at >= self.startup_timeout:
                results.extend(
                    self._replace(
                        worker,
                        f"worker process did not finish starting (its imports) within {self.startup_timeout:g} s",
                    )
                )
            elif (
                self.trial_timeout is not None
                and time.monotonic() - worker.started_at >= self.trial_timeout
            ):
                results.extend(
                    self._replace(worker, f"trial exceeded its timeout of {self.trial_timeout:g} s")
                )
        return results

    def _give_up_at(self, worker: _Worker) -> float:
        """When a busy worker's trial is failed if no result has come: its start-up, then its trial timeout."""
        limits = [] if worker.ready else [worker.spawned_at + self.startup_timeout]
        if self.trial_timeout is not None:
            limits.append(worker.started_at + self.trial_timeout)
        return min(limits, default=float("inf"))

    def _replace(self, worker: _Worker, reason: str, retryable: bool = False) -> list[TrialResult]:
        """Kill a worker whose trials cannot finish, report them failed, start a fresh worker. A packed
        trial killed by the kernel (out of memory, with its group's memory in use) runs again alone."""
        numbers, elapsed = worker.trial_numbers, time.monotonic() - worker.started_at
        self._kill(worker)
        self._workers[self._workers.index(worker)] = self._spawn()
        alone = retryable and "SIGKILL" in reason and any(n in self._packed for n in numbers)
        self._packed.difference_update(numbers)
        if alone:
            reason += " (packed with other trials; it runs again alone)"
        return [
            TrialResult(
                trial_number=number,
                state="FAIL",
                duration_s=elapsed,
                error=reason,
                retryable=retryable,
                retry_alone=alone,
            )
            for number in numbers
        ]

    def cancel(self, trial_number: int) -> None:
        """Stop a trial; the other members of its fused group lose their worker with it and come back
        from the next ``wait`` as lost (retried with the same parameters)."""
        for index, worker in enumerate(self._workers):
            if trial_number in worker.trial_numbers:
                self._kill(worker)
                self._workers[index] = self._spawn()
                self._lost += lost_with(trial_number, worker.trial_numbers, "worker")

    @staticmethod
    def _kill(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()

    def close(self) -> None:
        for worker in self._workers:
            if not worker.trial_numbers and worker.process.is_alive():
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        for worker in self._workers:
            if not worker.trial_numbers:
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
