"""Which hyperparameters mattered: Optuna's fANOVA and PED-ANOVA evaluators, per objective.

fANOVA (Hutter et al. 2014) fits a random forest to the trials and splits the variance of the objective
among the parameters; PED-ANOVA (Watanabe et al. 2023) asks which parameters set the top trials apart
from the rest, without a surrogate model. They answer different questions, so both are reported.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna

EVALUATORS = ("fanova", "ped_anova")


def param_importances(
    study: optuna.Study, metrics: list[str], seed: int | None
) -> dict[str, dict[str, dict[str, float] | str]]:
    """``{metric: {"fanova": {param: share}, "ped_anova": {...}}}``; an evaluator that cannot run on this
    study (too few finished trials, one parameter) gives its reason as a string instead."""
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    result: dict[str, dict[str, dict[str, float] | str]] = {}
    for index, metric in enumerate(metrics):
        result[metric] = {}
        for name in EVALUATORS:
            if len(finished) < 3:
                result[metric][name] = f"{len(finished)} finished trial(s); importances need 3"
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    shares = optuna.importance.get_param_importances(
                        study,
                        evaluator=_evaluator(name, seed),
                        target=_target(index, len(metrics)),
                    )
                result[metric][name] = {param: float(share) for param, share in shares.items()}
            except Exception as error:  # noqa: BLE001 - one evaluator failing leaves the other's answer
                result[metric][name] = f"{type(error).__name__}: {error}"[:300]
    return result


def ranked_params(importances: dict[str, dict[str, dict[str, float] | str]]) -> list[str]:
    """Parameters by fANOVA share on the first objective (PED-ANOVA's when fANOVA could not run)."""
    first = next(iter(importances.values()), {})
    for name in EVALUATORS:
        shares = first.get(name)
        if isinstance(shares, dict):
            return sorted(shares, key=lambda p: -shares[p])
    return []


def _evaluator(name: str, seed: int | None) -> Any:
    if name == "fanova":
        return optuna.importance.FanovaImportanceEvaluator(seed=seed)
    return optuna.importance.PedAnovaImportanceEvaluator()


def _target(index: int, n_objectives: int) -> Any:
    if n_objectives == 1:
        return None
    return lambda trial: trial.values[index]
