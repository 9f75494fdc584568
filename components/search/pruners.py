"""Pruners: the spec's ``search.pruner`` resolved to concrete settings, and the Optuna pruner for them.

The pruning decision runs in the worker (a local process or a pod), right after the trial reports a step,
so a pruned trial stops at once and frees its CPU or GPU. Every worker builds its own pruner object, so
the settings must not depend on what one process has seen: ``resolve_pruner`` (pure) fills every
resource the spec leaves open from the family's fidelity and the search space before the first trial,
and workers get the same numbers. Successive halving and Hyperband keep their rung bookkeeping in the
shared study storage (trial system attributes), so asynchronous workers see each other's rungs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import optuna

DEFAULT_REDUCTION_FACTOR = 5  # one in five goes on: tuned on MF-Hartmann (docs/benchmarks.md)

if TYPE_CHECKING:
    from kubetune.components.models import Fidelity
    from kubetune.components.spec import ParamSpec, PrunerSpec


def resolve_pruner(
    spec: PrunerSpec,
    fidelity: Fidelity | None,
    space: dict[str, ParamSpec],
    fixed_params: dict[str, Any],
    folds: int,
) -> dict[str, Any] | None:
    """Concrete pruner settings (JSON, sent with every trial request), or None when not pruning.

    Steps are the family's fidelity (epochs, boosting iterations, trees on the first split) or, for a
    family that fits in one go, the cross-validation folds (running mean after each fold).
    """
    if spec.kind == "none":
        return None
    settings = spec.model_dump()
    max_resource = spec.max_resource or max_steps(fidelity, space, fixed_params, folds)
    first_rung = first_rung_of(fidelity, max_resource)
    settings["min_resource"] = spec.min_resource or first_rung
    settings["max_resource"] = max_resource
    if settings["max_resource"] <= settings["min_resource"]:
        settings["max_resource"] = settings["min_resource"] + 1
    settings["reduction_factor"] = spec.reduction_factor or (
        fidelity and fidelity.reduction_factor or DEFAULT_REDUCTION_FACTOR
    )
    if spec.n_warmup_steps is None:  # the median pruner looks no earlier than the first rung
        fraction = fidelity.first_rung_fraction if fidelity else None
        settings["n_warmup_steps"] = first_rung if fraction else 0
    return settings


def first_rung_of(fidelity: Fidelity | None, max_resource: int) -> int:
    """The first step at which a trial may be stopped: one step, or the family's share of training
    (a neural network's), rounded to whole steps."""
    step = fidelity.step if fidelity else 1
    if fidelity is None or not fidelity.first_rung_fraction:
        return step
    return max(step, round(max_resource * fidelity.first_rung_fraction / step) * step)


def max_steps(
    fidelity: Fidelity | None,
    space: dict[str, ParamSpec],
    fixed_params: dict[str, Any],
    folds: int,
) -> int:
    """The most steps a trial can report: the fidelity parameter's upper bound (or fixed value)."""
    if fidelity is None:
        return max(1, folds - 1)  # fold indices 0..folds-1
    if fidelity.param in fixed_params:
        return int(fixed_params[fidelity.param])
    param = space.get(fidelity.param)
    if param is not None and param.high is not None:
        return int(param.high)
    return 100 * fidelity.step  # the estimator's own default applies; a generous bound


def build_pruner(settings: dict[str, Any] | None) -> optuna.pruners.BasePruner:
    """The Optuna pruner for resolved settings; NopPruner when not pruning."""
    if not settings:
        return optuna.pruners.NopPruner()
    kind = settings["kind"]
    if kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=settings["n_startup_trials"],
            n_warmup_steps=settings["n_warmup_steps"],
            interval_steps=settings["interval_steps"],
        )
    if kind == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=settings["min_resource"],
            reduction_factor=settings["reduction_factor"],
            bootstrap_count=settings["bootstrap_count"],
        )
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=settings["min_resource"],
            max_resource=settings["max_resource"],
            reduction_factor=settings["reduction_factor"],
        )
    raise ValueError(f"unknown pruner '{kind}'")
