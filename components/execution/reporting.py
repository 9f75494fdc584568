"""What a trial worker reports besides its scores: progress and pruning, its failure, its peak memory.

Shared by the cross-validated trial (kubetune.components.execution.trial) and a population member's round
(kubetune.components.execution.pbt_member), which report the same way.
"""

from __future__ import annotations

import resource
import sys
import time
import traceback
from functools import lru_cache
from pathlib import Path

import optuna
import pandas as pd

from kubetune.components.core import Packing, TrialRequest, TrialResult, redact_text


def failed_result(
    request: TrialRequest,
    started: float,
    error: BaseException,
    curve: list[tuple[int, float]] | None = None,
) -> TrialResult:
    """A trial (or population round) that raised: FAIL with a one-line reason, and whatever curve it reported."""
    return TrialResult(
        trial_number=request.trial_number,
        state="FAIL",
        duration_s=time.perf_counter() - started,
        peak_memory_mb=peak_memory_mb(),
        error=failure_reason(error),
        traceback=failure_traceback(error),
        curve=curve or [],
    )


TRACEBACK_CHARACTERS = 20_000


def failure_traceback(error: BaseException) -> str:
    """The whole traceback, redacted (a connection string in an exception's text keeps no password),
    its last part when very long: the one-line reason names the error, this shows where it came from."""
    text = "".join(traceback.format_exception(error))
    return redact_text(text[-TRACEBACK_CHARACTERS:])


class StepReporter:
    """Records a trial's progress: the curve for MLflow, intermediate values for the study, and, with a
    pruner, the pruning decision after every step (raises optuna.TrialPruned).

    Reports are best effort (a lost report is not a lost trial), but a pruner that cannot be reached is
    not: without the study's other trials it cannot decide, so the trial simply runs to the end.
    """

    def __init__(self, request: TrialRequest) -> None:
        self.curve: list[tuple[int, float]] = []
        self.unit: str | None = None
        self._storage = None
        self._trial: optuna.Trial | None = None
        self._trial_id = request.trial_id
        if not request.storage_url or request.trial_id is None:
            return
        from kubetune.components.execution.heartbeat import shared_storage

        try:
            self._storage = shared_storage(request.storage_url)
            if request.pruner:
                from kubetune.components.search import build_pruner

                study = optuna.load_study(
                    study_name=request.study_name,
                    storage=self._storage,
                    pruner=build_pruner(request.pruner),
                    sampler=optuna.samplers.RandomSampler(),
                )
                self._trial = optuna.Trial(study, request.trial_id)
        except Exception:  # noqa: BLE001
            self._trial = None

    def __call__(self, step: int, value: float) -> None:
        self.curve.append((step, value))
        try:
            if self._trial is not None:
                self._trial.report(value, step)
                prune = self._trial.should_prune()
            else:
                if self._storage is not None:
                    self._storage.set_trial_intermediate_value(self._trial_id, step, value)
                prune = False
        except Exception:  # noqa: BLE001
            return
        if prune:
            raise optuna.TrialPruned(f"pruned at {self.unit or 'step'} {step}")


def failure_reason(error: BaseException) -> str:
    """``ValueError: message (at module.py:42)``: short enough for a tag, precise enough to act on."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = " ".join(str(error).split())[:400]
    return redact_text(f"{type(error).__name__}: {message}{where}")


@lru_cache(maxsize=2)
def _cached_frame(uri: str, version: str) -> pd.DataFrame:
    from kubetune.components.data import read_frame

    return read_frame(uri)


def load_training_data(uri: str) -> pd.DataFrame:
    """A worker reads the training data once per version and reuses it for every trial it runs.

    For s3:// data each trial asks S3 for the object's ETag (one HEAD request): a changed object is read
    again, and an unreachable store fails the trial with a reason that names the endpoint.
    """
    from kubetune.components.data import object_version

    return _cached_frame(uri, object_version(uri))


def reset_peak_memory() -> None:
    """Linux lets a process reset its peak RSS, so a reused worker still measures each trial alone."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_gpu_peak() -> None:
    """Measure each trial's GPU memory peak alone in a reused worker (only a trial that imported torch
    can have touched a GPU)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.reset_peak_memory_stats()


def device_usage(seconds: float, sharing: int = 1) -> dict[str, object]:
    """Where a trial trained and what of the GPU it used, as TrialResult fields: ``gpu_seconds`` is its
    share of the GPU's time (``seconds`` divided among the ``sharing`` trials that ran on it at once),
    so a study's trials add up to the GPU time it cost."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return {"device": "cpu"}
    return {
        "device": f"cuda:{torch.cuda.get_device_name(0)}",
        "gpu_seconds": seconds / max(1, sharing),
        "peak_gpu_memory_mb": torch.cuda.max_memory_allocated() / 2**20,
        # what the device has for trials: its free memory plus what this process's allocator holds
        # (other processes' memory, another tenant's included, is not free)
        "device_memory_mb": (torch.cuda.mem_get_info()[0] + torch.cuda.memory_reserved()) / 2**20,
    }


OUT_OF_MEMORY = ("OutOfMemoryError", "CUDA out of memory", "MemoryError")


def packed_out_of_memory(result: TrialResult, packing: Packing | None) -> TrialResult:
    """A packed trial that ran out of memory says nothing about its configuration (its group used
    the memory): it runs again alone instead of counting as failed."""
    if (
        packing is None
        or packing.size < 2
        or result.state != "FAIL"
        or not any(mark in (result.error or "") for mark in OUT_OF_MEMORY)
    ):
        return result
    return result.model_copy(
        update={
            "retryable": True,
            "retry_alone": True,
            "error": f"{result.error} (packed with {packing.size - 1} other trial(s); it runs again alone)",
        }
    )
