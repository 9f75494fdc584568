"""scikit-learn's fits as Kubernetes Jobs: a joblib backend whose workers are trial pods.

``KubetuneSearchCV(executor="kubernetes")`` keeps scikit-learn's own search machinery (its
``evaluate_candidates`` builds ``cv_results_`` exactly as ``RandomizedSearchCV`` does) and only changes
where the fits run: joblib hands this backend batches of ``_fit_and_score`` calls, one candidate's
folds per batch; each batch is cloudpickled to the artifact store (estimator, data and all, as loky
pickles them for a local process), run by a trial Job (``kubetune-trial`` with ``KUBETUNE_CALL_REQUEST``),
and what it returned is read back from the store. Dask's and Ray's joblib backends take the same seam.

One dispatcher thread owns the KubernetesExecutor (it is not thread-safe): joblib's threads only queue
requests and wait on futures, so the executor's checks (an image that cannot be pulled, a pod that is
never scheduled, OOM kills, evictions) apply to these Jobs as to a study's trials. An evicted pod's batch
runs again once; any other lost batch fails the search with the pod's own words.

Trust: a pod unpickles what the search process wrote to the artifact store, so whoever can write there
can run code in trial pods -- the trust the model registry already asks for (MLflow's sklearn models
are pickles too). Keep the store's write access to the people and service accounts that run searches.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import traceback
from concurrent.futures import Future
from typing import Any

from joblib.parallel import ParallelBackendBase

from kubetune.components.core import CallRequest, TrialResult
from kubetune.components.data import join, object_version, read_bytes, write_bytes
from kubetune.components.execution.kubernetes import KubernetesExecutor
from kubetune.components.spec import KubernetesSpec

log = logging.getLogger("kubetune.kubernetes")
POLL_S = 1.0
MAX_EVICTIONS = 1  # a batch whose pod was disrupted runs again this many times


class RemoteCallError(RuntimeError):
    """A batch's pod ended without an answer (killed, out of memory, a crash outside the fits)."""


# -- pod side ---------------------------------------------------------------------------------------


def run_call(request: CallRequest) -> str | None:
    """Run the batch at ``request.call_uri`` and store ("ok", value) or ("error", exception) at its
    output; returns the error's one line (None when the batch returned)."""
    import cloudpickle

    try:
        call = cloudpickle.loads(read_bytes(request.call_uri))
    except Exception as error:  # noqa: BLE001 - a class the image cannot import, an unreadable store
        write_bytes(request.output_uri, cloudpickle.dumps(("error", _portable(error))))
        return f"cannot load the batch: {type(error).__name__}: {error}"
    try:
        value = call()
    except Exception as error:  # noqa: BLE001 - error_score="raise": the search re-raises it
        write_bytes(request.output_uri, cloudpickle.dumps(("error", _portable(error))))
        return f"{type(error).__name__}: {error}"
    write_bytes(request.output_uri, cloudpickle.dumps(("ok", value)))
    return None


def _portable(error: Exception) -> Exception:
    """The error itself when it pickles, else a RuntimeError with its text and traceback."""
    import cloudpickle

    try:
        cloudpickle.loads(cloudpickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(error).__name__}: {error}\n{traceback.format_exc()}")


# -- controller side --------------------------------------------------------------------------------


class JobDispatcher:
    """Submits CallRequests to one KubernetesExecutor from one thread and resolves their futures."""

    def __init__(self, executor: KubernetesExecutor) -> None:
        self.executor = executor
        self._queue: queue.Queue[tuple[CallRequest, Future[TrialResult]]] = queue.Queue()
        self._pending: dict[int, tuple[CallRequest, Future[TrialResult], int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, request: CallRequest) -> Future[TrialResult]:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="kubetune-jobs", daemon=True)
            self._thread.start()
        future: Future[TrialResult] = Future()
        self._queue.put((request, future))
        return future

    def close(self) -> None:
        """Stop the loop and delete the search's Jobs, finished or not."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.executor.close()
        for _, future, _ in self._pending.values():
            future.cancel()
        self._pending.clear()

    def _loop(self) -> None:
        try:
            self.executor.start()
            while not self._stop.is_set():
                self._submit_queued()
                if not self._pending:
                    self._stop.wait(0.05)
                    continue
                for result in self.executor.wait(POLL_S):
                    self._settle(result)
        except Exception as error:  # noqa: BLE001 - ClusterProblem and API errors fail every waiting batch
            for _, future, _ in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            while not self._queue.empty():
                self._queue.get_nowait()[1].set_exception(error)

    def _submit_queued(self) -> None:
        while True:
            try:
                request, future = self._queue.get_nowait()
            except queue.Empty:
                return
            self.executor.submit(request)
            self._pending[request.trial_number] = (request, future, 0)

    def _settle(self, result: TrialResult) -> None:
        request, future, evictions = self._pending.pop(result.trial_number)
        if result.retryable and evictions < MAX_EVICTIONS:
            log.info("batch %d: %s", request.trial_number, result.error)
            self.executor.submit(request)
            self._pending[request.trial_number] = (request, future, evictions + 1)
            return
        future.set_result(result)


class KubernetesJobBackend(ParallelBackendBase):
    """joblib backend: each batch of calls runs in one trial Job (see the module docstring)."""

    supports_retrieve_callback = True
    supports_timeout = False

    def __init__(
        self,
        executor: KubernetesExecutor,
        exchange_uri: str,
        parallelism: int,
        batch_size: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dispatcher = JobDispatcher(executor)
        self.exchange_uri = exchange_uri
        self.parallelism = parallelism
        self.batch_size = batch_size
        self._numbers = itertools.count()

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        return self.parallelism

    def compute_batch_size(self) -> int:
        return self.batch_size

    def submit(self, func: Any, callback: Any = None) -> Future[Any]:
        import cloudpickle

        number = next(self._numbers)
        call_uri = join(self.exchange_uri, f"batch-{number:05d}.pkl")
        request = CallRequest(
            study_name=self.dispatcher.executor.study_name,
            trial_number=number,
            call_uri=call_uri,
            output_uri=_output_uri(self.exchange_uri, number),
        )
        write_bytes(call_uri, cloudpickle.dumps(func))
        future = self.dispatcher.submit(request)
        future.request = request  # type: ignore[attr-defined]
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def retrieve_result_callback(self, future: Future[TrialResult]) -> Any:
        result = future.result()
        return read_output(future.request, result)  # type: ignore[attr-defined]

    def abort_everything(self, ensure_ready: bool = True) -> None:
        self.dispatcher.close()
        if ensure_ready:
            self.dispatcher = JobDispatcher(self.dispatcher.executor)

    def close(self) -> None:
        self.dispatcher.close()


def kubernetes_backend(
    settings: KubernetesSpec,
    search_name: str,
    exchange_uri: str,
    parallelism: int,
    batch_size: int,
    api_client: Any | None = None,
) -> KubernetesJobBackend:
    """The backend for one search: its Jobs are labelled with ``search_name`` (so ``close`` deletes
    exactly them) and its batches and outputs live under ``exchange_uri``."""
    executor = KubernetesExecutor(
        settings,
        search_name,
        parallelism,
        result_reader=lambda number: _published(exchange_uri, number),
        api_client=api_client,
    )
    return KubernetesJobBackend(executor, exchange_uri, parallelism, batch_size)


def _output_uri(exchange_uri: str, number: int) -> str:
    return join(exchange_uri, f"batch-{number:05d}.out.pkl")


def _published(exchange_uri: str, number: int) -> TrialResult | None:
    """What the executor's result reader says of a batch: done once its output is in the store (a
    HEAD or a stat; the output itself is read once, by ``read_output``)."""
    try:
        object_version(_output_uri(exchange_uri, number))
    except Exception:  # noqa: BLE001 - not written (yet): the pod did not get that far
        return None
    return TrialResult(trial_number=number, state="COMPLETE")


def read_output(request: CallRequest, result: TrialResult) -> Any:
    """The batch's return value; its exception re-raised; a pod lost without an answer named."""
    import cloudpickle

    try:
        kind, value = cloudpickle.loads(read_bytes(request.output_uri))
    except Exception:  # noqa: BLE001 - no output: the pod died before writing it
        raise RemoteCallError(
            f"batch {request.trial_number} of search '{request.study_name}' ran in no pod to the end: {result.error}"
        ) from None
    if kind == "error":
        raise value
    return value
