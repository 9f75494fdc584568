"""A scikit-learn search's space as kubetune's: Optuna distributions or kubetune's space dictionaries.

``KubetuneSearchCV(param_distributions=...)`` takes, per parameter, an Optuna distribution
(``IntDistribution(1, 100, log=True)``), a kubetune dictionary (``{"type": "float", "low": 0.01,
"high": 10, "log": true}``, conditional ones with ``when:``) or a list of values (a categorical). All of
them become the same ``ParamSpec`` the YAML spec produces, so samplers, ``auto`` and the define-by-run
suggestion behave as in a study. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from pydantic import TypeAdapter, ValidationError

from kubetune.components.core import SpecError
from kubetune.components.search import Space
from kubetune.components.spec import (
    ParamSpec,
    check_conditions,
    field_error_text,
    format_validation_error,
)

FIELD = "param_distributions"
_PARAMETERS = TypeAdapter(dict[str, ParamSpec])


class SearchSettingError(SpecError, ValueError):
    """A KubetuneSearchCV argument that cannot work; raised by ``fit`` before anything runs or is
    recorded. A ValueError too, as scikit-learn's own parameter errors are."""


def to_space(param_distributions: Any) -> Space:
    """kubetune's Space for ``param_distributions``; a SearchSettingError names the first bad entry."""
    if not isinstance(param_distributions, Mapping):
        raise SearchSettingError(
            f"{FIELD}: a dict of parameter name -> distribution, got {type(param_distributions).__name__}"
        )
    if not param_distributions:
        raise SearchSettingError(f"{FIELD}: the search space is empty; name at least one parameter")
    space: Space = {}
    for name, value in param_distributions.items():
        if not isinstance(name, str) or not name:
            raise SearchSettingError(f"{FIELD}: parameter names are strings, got {name!r}")
        space[name] = _param(name, value)
    try:
        check_conditions(space)
    except ValueError as error:  # "space.<name>.when: ...", as the YAML spec says it
        raise SearchSettingError(
            f"{FIELD}.{field_error_text(error).removeprefix('space.')}"
        ) from None
    return space


def _param(name: str, value: Any) -> ParamSpec:
    if isinstance(value, ParamSpec):
        return value
    if isinstance(value, optuna.distributions.BaseDistribution):
        return _from_optuna(name, value)
    if isinstance(value, Mapping):
        try:  # validated under its name, so the spec's own one-line message names "C.type" or "C"
            return _PARAMETERS.validate_python({name: dict(value)})[name]
        except ValidationError as error:
            raise SearchSettingError(f"{FIELD}.{format_validation_error(error)}") from None
    if isinstance(value, list | tuple):
        return _param(name, {"type": "categorical", "choices": list(value)})
    raise SearchSettingError(
        f"{FIELD}.{name}: an Optuna distribution, a dict such as "
        f'{{"type": "float", "low": 0.01, "high": 1}} or a list of values, got {type(value).__name__}'
    )


def _from_optuna(name: str, distribution: optuna.distributions.BaseDistribution) -> ParamSpec:
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return _param(name, list(distribution.choices))
    if isinstance(distribution, optuna.distributions.IntDistribution):
        kind = "int"
    elif isinstance(distribution, optuna.distributions.FloatDistribution):
        kind = "float"
    else:
        raise SearchSettingError(
            f"{FIELD}.{name}: {type(distribution).__name__} is not an Int, Float or Categorical distribution"
        )
    step = distribution.step
    return _param(
        name,
        {
            "type": kind,
            "low": distribution.low,
            "high": distribution.high,
            "log": distribution.log,
            # Optuna's IntDistribution always has a step (1 by default), which log ranges must not state
            "step": None if kind == "int" and step == 1 else step,
        },
    )
