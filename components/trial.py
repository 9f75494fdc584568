"""The trial entrypoint: one configuration in (TrialRequest), its scores out (TrialResult).

Every executor runs this same function, in a local worker process or in a Kubernetes pod. Both messages
are plain JSON so they cross process and pod boundaries unchanged. A trial never raises: an error
becomes a FAIL result that carries the reason, so the study records it and goes on.
"""

from __future__ import annotations

import resource
import time
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from components.redact import redact_text

TrialState = Literal["COMPLETE", "FAIL", "PRUNED"]


class TrialRequest(BaseModel):
    study_name: str
    trial_number: int
    params: dict[str, Any]
    fixed_params: dict[str, Any] = Field(default_factory=dict)
    family: str
    task: str
    n_classes: int | None
    data_uri: str  # the training part only: held-out rows never reach a trial
    target: str
    drop: list[str] = Field(default_factory=list)
    metrics: list[str]
    validation: str
    folds: int
    val_size: float
    seed: int | None
    storage_url: str | None = None  # for the heartbeat (and, later, intermediate reports)
    trial_id: int | None = None
    heartbeat_interval: float = 10.0


class TrialResult(BaseModel):
    trial_number: int
    state: TrialState
    values: list[float] | None = None
    fold_scores: dict[str, list[float]] = Field(default_factory=dict)
    fit_seconds_mean: float | None = None
    duration_s: float = 0.0
    peak_memory_mb: float | None = None
    error: str | None = None
    retryable: bool = False  # lost to infrastructure (worker died, pod evicted): re-run the same params
    device: str | None = None  # where it trained (cpu, cuda:<name>), reported by pods


def run_trial(request: TrialRequest) -> TrialResult:
    """Cross-validate one configuration on the training data; never raises.

    The caller keeps the trial's heartbeat (components.heartbeat) going around it. After each fold the
    running mean of the first metric is reported to the shared study storage as an intermediate value
    (step = fold index), so the study shows progress and pruners can act on it.
    """
    from components.evaluation import cross_validate
    from components.models.registry import get_family

    _reset_peak_memory()
    started = time.perf_counter()
    try:
        frame = load_training_data(request.data_uri)
        params = {**request.fixed_params, **request.params}
        estimator = get_family(request.family).build(params, request.task, request.seed)
        cv = cross_validate(
            estimator,
            frame,
            target=request.target,
            drop=request.drop,
            metrics=request.metrics,
            n_classes=request.n_classes,
            strategy=request.validation,
            folds=request.folds,
            val_size=request.val_size,
            seed=request.seed,
            on_fold=_intermediate_reporter(request),
        )
        return TrialResult(
            trial_number=request.trial_number,
            state="COMPLETE",
            values=[cv.mean(m) for m in request.metrics],
            fold_scores=cv.fold_scores,
            fit_seconds_mean=sum(cv.fit_seconds) / len(cv.fit_seconds),
            duration_s=time.perf_counter() - started,
            peak_memory_mb=peak_memory_mb(),
        )
    except Exception as error:  # noqa: BLE001 - any error is this trial's failure, not the study's
        return TrialResult(
            trial_number=request.trial_number,
            state="FAIL",
            duration_s=time.perf_counter() - started,
            peak_memory_mb=peak_memory_mb(),
            error=failure_reason(error),
        )


def _intermediate_reporter(request: TrialRequest):  # noqa: ANN202
    """Report each fold's running score to the study storage; best effort (a lost report is not a lost trial)."""
    if not request.storage_url or request.trial_id is None:
        return None
    from components.heartbeat import shared_storage

    storage = shared_storage(request.storage_url)

    def report(step: int, value: float) -> None:
        try:
            storage.set_trial_intermediate_value(request.trial_id, step, value)
        except Exception:  # noqa: BLE001
            pass

    return report


def failure_reason(error: BaseException) -> str:
    """``ValueError: message (at module.py:42)``: short enough for a tag, precise enough to act on."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = " ".join(str(error).split())[:400]
    return redact_text(f"{type(error).__name__}: {message}{where}")


@lru_cache(maxsize=2)
def _cached_frame(uri: str, version: str) -> pd.DataFrame:
    from components.data import read_frame

    return read_frame(uri)


def load_training_data(uri: str) -> pd.DataFrame:
    """A worker reads the training data once per version and reuses it for every trial it runs.

    For s3:// data each trial asks S3 for the object's ETag (one HEAD request): a changed object is read
    again, and an unreachable store fails the trial with a reason that names the endpoint.
    """
    from components.artifacts import object_version

    return _cached_frame(uri, object_version(uri))


def _reset_peak_memory() -> None:
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
