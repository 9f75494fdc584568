"""Search space: the spec's parameters as Optuna distributions, sampled define-by-run.

Conditional parameters (``gamma`` only when ``kernel: rbf``) rule out one fixed distribution dict per
study, so the controller asks for a trial and then suggests each parameter in order, skipping those whose
condition does not hold; Optuna records exactly the parameters that were active. All functions here are
pure.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import optuna

from kubetune.components.core import SpecError
from kubetune.components.models import get_family
from kubetune.components.spec import ParamSpec, TuneSpec, check_conditions

Space = dict[str, ParamSpec]
MAX_GRID_SIZE = 100_000


def resolve_space(spec: TuneSpec, task: str, fit_rows: int | None = None) -> Space:
    """The spec's space, or the family's default one for this task.

    ``fit_rows`` (kubetune.components.pipeline.preflight_checks.smallest_fit_rows) is the fewest rows a model is fitted on. A
    family's parameters that cannot exceed it (its ``row_bounded``, such as k-NN's ``n_neighbors``) are
    clipped to it in the default space, and are an error in a space or fixed value the user wrote: a
    default should fit small data, a user's explicit choice should not be silently changed.
    """
    family = get_family(spec.model.family)
    if spec.model.space is not None:
        space = dict(spec.model.space)
        _check_row_bounds(spec, family, space, fit_rows)
        return space
    raw = family.default_space(task)
    space = {name: ParamSpec.model_validate(param) for name, param in raw.items()}
    for fixed in spec.model.params:
        space.pop(fixed, None)
    _check_row_bounds(spec, family, {}, fit_rows)
    for name in family.row_bounded:
        param = space.get(name)
        if (
            fit_rows is not None
            and param is not None
            and param.type != "categorical"
            and param.bounds[1] > fit_rows
        ):
            space[name] = param.model_copy(
                update={"high": fit_rows, "low": min(param.bounds[0], fit_rows)}
            )
    try:
        check_conditions(space)
    except ValueError as error:
        raise SpecError(
            f"model.family: {spec.model.family}'s default space is inconsistent: {error}"
        ) from None
    return space


def _check_row_bounds(spec: TuneSpec, family: Any, space: Space, fit_rows: int | None) -> None:
    """A user's searched or fixed value of a row-bounded parameter above ``fit_rows``: one line, before any work."""
    if fit_rows is None:
        return
    for name in family.row_bounded:
        if name in space:
            where, value = f"model.space.{name}", _largest(space[name])
        else:
            where, value = f"model.params.{name}", spec.model.params.get(name)
        if _is_number(value) and value > fit_rows:
            raise SpecError(
                f"{where}: {value:g} is more than the {fit_rows} rows the smallest cross-validation split trains on; "
                f"{spec.model.family} cannot use more {name} than training rows"
            )


def _largest(param: ParamSpec) -> Any:
    if param.type != "categorical":
        return param.high
    return max(
        (
            float(c)
            for c in param.options
            if isinstance(c, (int, float)) and not isinstance(c, bool)
        ),
        default=None,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_active(param: ParamSpec, chosen: dict[str, Any]) -> bool:
    """A parameter is active when every parent it names is active and took one of the listed values."""
    return all(
        parent in chosen and chosen[parent] in values
        for parent, values in param.condition_values().items()
    )


def distribution(param: ParamSpec) -> optuna.distributions.BaseDistribution:
    if param.type == "categorical":
        return optuna.distributions.CategoricalDistribution(param.options)
    low, high = param.bounds
    if param.type == "int":
        step = int(param.step or 1)
        return optuna.distributions.IntDistribution(int(low), int(high), log=param.log, step=step)
    return optuna.distributions.FloatDistribution(low, high, log=param.log, step=param.step)


def suggest(trial: optuna.Trial, space: Space) -> dict[str, Any]:
    """Sample the active parameters of ``space`` on ``trial`` (define-by-run)."""
    chosen: dict[str, Any] = {}
    for name, param in space.items():
        if is_active(param, chosen):
            chosen[name] = _suggest_one(trial, name, param)
    return chosen


def _suggest_one(trial: optuna.Trial, name: str, param: ParamSpec) -> Any:
    if param.type == "categorical":
        return trial.suggest_categorical(name, param.options)
    low, high = param.bounds
    if param.type == "int":
        return trial.suggest_int(
            name, int(low), int(high), step=int(param.step or 1), log=param.log
        )
    return trial.suggest_float(name, low, high, step=param.step, log=param.log)


def is_conditional(space: Space) -> bool:
    return any(param.when for param in space.values())


def has_categorical(space: Space) -> bool:
    return any(param.type == "categorical" for param in space.values())


def grid(space: Space) -> dict[str, list[Any]]:
    """Every value each parameter can take, for Optuna's GridSampler; errors name the parameter."""
    values: dict[str, list[Any]] = {}
    for name, param in space.items():
        where = f"model.space.{name}"
        if param.when:
            raise SpecError(f"{where}: the grid sampler cannot search conditional parameters")
        if param.type == "categorical":
            values[name] = list(param.options)
        elif param.type == "int":
            values[name] = list(
                range(int(param.bounds[0]), int(param.bounds[1]) + 1, int(param.step or 1))
            )
        elif param.step is None:
            raise SpecError(f"{where}: the grid sampler needs a 'step' for float parameters")
        else:
            low, high = param.bounds
            count = int(math.floor((high - low) / param.step + 1e-9)) + 1
            values[name] = [round(low + i * param.step, 12) for i in range(count)]
    if grid_size(values) > MAX_GRID_SIZE:
        raise SpecError(
            f"model.space: the grid has {grid_size(values):,} points, more than {MAX_GRID_SIZE:,}"
        )
    return values


def grid_size(values: dict[str, list[Any]]) -> int:
    return math.prod(len(v) for v in values.values())


def space_fingerprint(space: Space) -> str:
    """A short hash of the space, stored on the study so a resumed run can tell if it changed."""
    canonical = json.dumps(
        {k: v.model_dump(exclude_none=True) for k, v in space.items()}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def to_jsonable(space: Space) -> dict[str, dict[str, Any]]:
    return {
        name: param.model_dump(exclude_none=True, exclude_defaults=True) | {"type": param.type}
        for name, param in space.items()
    }


def project(params: dict[str, Any], space: Space) -> dict[str, Any]:
    """``params`` (past values, possibly as strings) as values the current space can take.

    Parameters are walked in the space's order, so a conditional parameter is kept only when its
    condition holds on the projected values. Returns an empty dict when nothing survives.
    """
    projected: dict[str, Any] = {}
    for name, param in space.items():
        if name not in params or not is_active(param, projected):
            continue
        value = params[name]
        if param.type == "categorical":
            match = [c for c in param.options if c == value or str(c) == str(value)]
            if match:
                projected[name] = match[0]
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number):
            continue
        low, high = param.bounds
        number = min(max(number, low), high)
        if param.step:
            number = low + round((number - low) / param.step) * param.step
            number = min(number, high)
        projected[name] = int(round(number)) if param.type == "int" else float(number)
    return projected
