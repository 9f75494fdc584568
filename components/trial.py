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

import optuna
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
    positive_class: str | bool | int | None = None  # two classes: the one f1, precision, recall score
    data_uri: str  # the training part only: held-out rows never reach a trial
    target: str
    drop: list[str] = Field(default_factory=list)
    metrics: list[str]
    validation: str
    folds: int
    val_size: float
    seed: int | None
    storage_url: str | None = None  # for the heartbeat, intermediate reports and the pruner
    trial_id: int | None = None
    heartbeat_interval: float = 10.0
    pruner: dict[str, Any] | None = None  # resolved settings (components.pruning.resolve_pruner)
    pbt: dict[str, Any] | None = None  # a population member's round (components.pbt_member.MemberRound)


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
    curve: list[tuple[int, float]] = Field(default_factory=list)  # (step, first metric) as reported
    step_unit: str | None = None  # epoch, iteration, tree or fold
    pruned_at_step: int | None = None


def run_trial(request: TrialRequest) -> TrialResult:
    """Cross-validate one configuration on the training data; never raises.

    The caller keeps the trial's heartbeat (components.heartbeat) going around it. Progress goes to the
    shared study storage as intermediate values (components.evaluation): with a pruner, the learning
    curve in the family's steps (epochs, iterations, trees); otherwise the running score after each fold;
    with a pruner, the worker asks it after every step and a pruned trial ends here, at once, as PRUNED
    with the step it reached.
    """
    from components.evaluation import cross_validate
    from components.models.registry import get_family

    if request.pbt is not None:
        from components.pbt_member import run_member_round

        return run_member_round(request)
    _reset_peak_memory()
    started = time.perf_counter()
    reporter = StepReporter(request)
    try:
        frame = load_training_data(request.data_uri)
        params = {**request.fixed_params, **request.params}
        family = get_family(request.family)
        estimator = family.build(params, request.task, request.seed)
        # learning curves cost a validation pass per step: measured only when a pruner will use them
        fidelity = getattr(family, "fidelity", None) if request.pruner else None
        reporter.unit = fidelity.unit if fidelity else "fold"
        cv = cross_validate(
            estimator,
            frame,
            target=request.target,
            drop=request.drop,
            metrics=request.metrics,
            n_classes=request.n_classes,
            positive_class=request.positive_class,
            strategy=request.validation,
            folds=request.folds,
            val_size=request.val_size,
            seed=request.seed,
            on_fold=reporter,
            fidelity=fidelity,
            on_step=reporter,
        )
        return TrialResult(
            trial_number=request.trial_number,
            state="COMPLETE",
            values=[cv.mean(m) for m in request.metrics],
            fold_scores=cv.fold_scores,
            fit_seconds_mean=sum(cv.fit_seconds) / len(cv.fit_seconds),
            duration_s=time.perf_counter() - started,
            peak_memory_mb=peak_memory_mb(),
            curve=reporter.curve,
            step_unit=reporter.unit,
        )
    except optuna.TrialPruned:
        step, value = reporter.curve[-1]
        return TrialResult(
            trial_number=request.trial_number,
            state="PRUNED",
            values=[value],
            duration_s=time.perf_counter() - started,
            peak_memory_mb=peak_memory_mb(),
            curve=reporter.curve,
            step_unit=reporter.unit,
            pruned_at_step=step,
        )
    except Exception as error:  # noqa: BLE001 - any error is this trial's failure, not the study's
        return failed_result(request, started, error)


def failed_result(request: TrialRequest, started: float, error: BaseException, curve: list[tuple[int, float]] | None = None) -> TrialResult:
    """A trial (or population round) that raised: FAIL with a one-line reason, and whatever curve it reported."""
    return TrialResult(
        trial_number=request.trial_number,
        state="FAIL",
        duration_s=time.perf_counter() - started,
        peak_memory_mb=peak_memory_mb(),
        error=failure_reason(error),
        curve=curve or [],
    )


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
        from components.heartbeat import shared_storage

        try:
            self._storage = shared_storage(request.storage_url)
            if request.pruner:
                from components.pruning import build_pruner

                study = optuna.load_study(
                    study_name=request.study_name, storage=self._storage, pruner=build_pruner(request.pruner), sampler=optuna.samplers.RandomSampler()
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
