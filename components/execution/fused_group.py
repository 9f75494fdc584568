"""A fused group's entrypoint: K trial requests of one PyTorch MLP structure in, K results out.

Every member is still its own trial: its own reporter (intermediate values and its pruner's decision,
each epoch), its own result (COMPLETE, PRUNED at the step it reached, or FAIL with its own reason) and its
own heartbeat, which the caller keeps. Like ``run_trial`` this never raises: an error that stops the whole
group (the data cannot be read, the GPU ran out of memory) fails every member that had not finished, with
that reason, and a group that ran out of memory has its members re-run alone.
"""

from __future__ import annotations

import time

import optuna

from kubetune.components.core import TrialRequest, TrialResult
from kubetune.components.evaluation import CVResult, cross_validate_fused
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


def group_problem(requests: list[TrialRequest]) -> str | None:
    """Why these requests cannot train as one fused model, or None: one study, data, task, folds and
    seed, a family that fuses, and equal structure (its ``fused_structure`` parameters)."""
    first = requests[0]
    family = get_family(first.family)
    if family.fused_structure is None:
        return f"family '{first.family}' cannot train fused"
    shared = ("study_name", "family", "task", "data_uri", "validation", "folds", "val_size", "seed")
    for request in requests[1:]:
        for name in shared:
            if getattr(request, name) != getattr(first, name):
                return f"members differ in {name}"
        for name in family.fused_structure:
            if _param(request, name) != _param(first, name):
                return (
                    f"members differ in {name} ({_param(request, name)} vs {_param(first, name)})"
                )
    if any(r.repeat_seeds or r.pbt for r in requests):
        return "repeated or population-based trials run alone"
    return None


def _param(request: TrialRequest, name: str) -> object:
    return {**request.fixed_params, **request.params}.get(name)


def run_fused_group(requests: list[TrialRequest]) -> list[TrialResult]:
    """Cross-validate every member together; one result per request, in order; never raises."""
    reset_peak_memory()
    reset_gpu_peak()
    started = time.perf_counter()
    reporters = [StepReporter(request) for request in requests]
    try:
        problem = group_problem(requests)
        if problem:
            raise ValueError(f"these trials cannot train fused: {problem}")
        first = requests[0]
        family = get_family(first.family)
        fidelity = family.fidelity if first.pruner else None
        for reporter in reporters:
            reporter.unit = fidelity.unit if fidelity else "fold"
        frame = load_training_data(first.data_uri)
        outcomes = cross_validate_fused(
            [family.build({**r.fixed_params, **r.params}, r.task, r.seed) for r in requests],
            frame,
            target=first.evaluation_target(),
            strategy=first.validation,
            folds=first.folds,
            val_size=first.val_size,
            seed=first.seed,
            on_fold=reporters,
            on_step=reporters if fidelity else None,
        )
    except Exception as error:  # noqa: BLE001 - the group's failure is each member's
        outcomes = [error] * len(requests)
    seconds = time.perf_counter() - started
    usage = device_usage(seconds, len(requests))
    results = []
    for request, reporter, outcome in zip(requests, reporters, outcomes):
        result = _member_result(request, reporter, outcome, seconds, started)
        result = packed_out_of_memory(result, request.packing)
        results.append(result.model_copy(update=usage))
    return results


def _member_result(
    request: TrialRequest,
    reporter: StepReporter,
    outcome: CVResult | BaseException,
    seconds: float,
    started: float,
) -> TrialResult:
    """A member's result; its duration is the group's (it trained all along, as one of K)."""
    if isinstance(outcome, optuna.TrialPruned) and reporter.curve:
        step, value = reporter.curve[-1]
        return TrialResult(
            trial_number=request.trial_number,
            state="PRUNED",
            values=[value],
            duration_s=seconds,
            peak_memory_mb=peak_memory_mb(),
            curve=reporter.curve,
            step_unit=reporter.unit,
            pruned_at_step=step,
        )
    if isinstance(outcome, BaseException):
        return failed_result(request, started, outcome, reporter.curve)
    return TrialResult(
        trial_number=request.trial_number,
        state="COMPLETE",
        values=[outcome.mean(m) for m in request.metrics],
        fold_scores=outcome.fold_scores,
        fit_seconds_mean=sum(outcome.fit_seconds) / len(outcome.fit_seconds),
        duration_s=seconds,
        peak_memory_mb=peak_memory_mb(),
        curve=reporter.curve,
        step_unit=reporter.unit,
    )
