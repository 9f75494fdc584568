"""The trial entrypoint: one configuration in (TrialRequest), its scores out (TrialResult).

Every executor runs this same function, in a local worker process or in a Kubernetes pod. A trial never
raises: an error becomes a FAIL result that carries the reason, so the study records it and goes on.
"""

from __future__ import annotations

import time

import optuna

from kubetune.components.core import TrialRequest, TrialResult
from kubetune.components.evaluation import CVResult, cross_validate
from kubetune.components.execution.pbt_member import run_member_round
from kubetune.components.execution.reporting import (
    StepReporter,
    device_usage,
    failed_result,
    load_training_data,
    packed_out_of_memory,
    peak_memory_mb,
    reset_gpu_peak,
    reset_peak_memory,
)
from kubetune.components.models import get_family


def run_trial(request: TrialRequest) -> TrialResult:
    """Cross-validate one configuration on the training data; never raises.

    The caller keeps the trial's heartbeat (kubetune.components.execution.heartbeat) going around it. Progress goes to the
    shared study storage as intermediate values (kubetune.components.evaluation.cross_validation): with a pruner, the learning
    curve in the family's steps (epochs, iterations, trees); otherwise the running score after each fold;
    with a pruner, the worker asks it after every step and a pruned trial ends here, at once, as PRUNED
    with the step it reached.
    """
    if request.pbt is not None:
        return run_member_round(request)
    reset_peak_memory()
    reset_gpu_peak()
    started = time.perf_counter()
    result = packed_out_of_memory(_cross_validated(request, started), request.packing)
    # trial processes packed on one worker share its GPU: each counts its share of the time
    sharing = request.packing.size if request.packing else 1
    return result.model_copy(update=device_usage(result.duration_s, sharing))


def _cross_validated(request: TrialRequest, started: float) -> TrialResult:
    reporter = StepReporter(request)
    try:
        frame = load_training_data(request.data_uri)
        params = {**request.fixed_params, **request.params}
        family = get_family(request.family)
        # learning curves cost a validation pass per step: measured only when a pruner will use them
        fidelity = family.fidelity if request.pruner else None
        reporter.unit = fidelity.unit if fidelity else "fold"
        cv = CVResult({m: [] for m in request.metrics})
        seeds: list[int | None] = list(request.repeat_seeds) or [request.seed]
        for seed in seeds:
            run = cross_validate(
                family.build(params, request.task, seed),
                frame,
                target=request.evaluation_target(),
                strategy=request.validation,
                folds=request.folds,
                val_size=request.val_size,
                seed=seed,
                on_fold=reporter,
                fidelity=fidelity,
                on_step=reporter,
            )
            cv.extend(run)
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
