"""Sampler choice: Optuna's samplers, configured; ``auto`` picks one from the space and the budget.

``choose_sampler`` is pure and returns the reason alongside the choice, so the parent run can record
why a sampler was used. The policy follows what was measured on this class of problem (see
docs/architecture.md): a Gaussian process wins on small all-numeric budgets, TPE handles categorical
and conditional spaces and larger budgets at a fraction of the cost, NSGA-II suits long multi-objective
runs, and an exhaustive grid is best when it fits in the budget.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna

from kubetune.components.core import (
    SAMPLER_RANDOM_EVERY_TAG,
    SAMPLER_RANDOM_FROM_TAG,
    SAMPLER_STARTUP_TAG,
    SpecError,
)
from kubetune.components.search.cost_aware_sampler import MAX_ASK_SHARE, CostAwareSampler
from kubetune.components.search.interleaved_sampler import InterleavedSampler
from kubetune.components.search.space import Space, grid, grid_size, has_categorical, is_conditional

if TYPE_CHECKING:
    from kubetune.components.spec import TuneSpec

GP_MAX_TRIALS = 200  # GP ask time grows ~cubically; past this TPE is cheaper at similar quality
NSGA2_MIN_TRIALS = 300  # below this, multi-objective TPE converges faster than a genetic population
STARTUP_TRIALS = 10  # Optuna's default: random trials before TPE or the GP models the space
WARM_RANDOM_EVERY = 5  # after a warm start, every 5th trial is a random draw (kubetune.components.search.interleaved_sampler)
WARM_MODEL_ONLY_TRIALS = 20  # trials after the warm ones that the model (TPE or the GP) proposes alone before random draws


@dataclass(frozen=True)
class SamplerChoice:
    name: str
    reason: str
    # ``auto``'s sampler when the model's asks cost too much (kubetune.components.search.cost_aware_sampler)
    fallback: str | None = None


def choose_sampler(requested: str, space: Space, n_trials: int, n_objectives: int) -> SamplerChoice:
    if requested != "auto":
        return SamplerChoice(requested, "set in the spec")
    all_categorical = all(p.type == "categorical" for p in space.values())
    if all_categorical and not is_conditional(space) and grid_size(grid(space)) <= n_trials:
        return SamplerChoice(
            "grid", f"the whole grid ({grid_size(grid(space))} points) fits in {n_trials} trials"
        )
    if n_objectives > 1:
        if n_trials >= NSGA2_MIN_TRIALS:
            return SamplerChoice("nsga2", f"{n_objectives} objectives and {n_trials} trials")
        return SamplerChoice(
            "tpe", f"{n_objectives} objectives with a small budget ({n_trials} trials)"
        )
    if is_conditional(space):
        return SamplerChoice("tpe", "the space has conditional parameters")
    if not has_categorical(space) and n_trials <= GP_MAX_TRIALS:
        return SamplerChoice(
            "gp",
            f"all-numeric space and {n_trials} trials; tpe once an ask costs more than "
            f"{MAX_ASK_SHARE:.0%} of the time between trials",
            fallback="tpe",
        )
    return SamplerChoice(
        "tpe", f"{'categorical parameters' if has_categorical(space) else 'large budget'}"
    )


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid, without its stop: ``GridSampler.after_trial`` calls ``study.stop()`` once the grid is
    covered, which raises outside ``study.optimize`` -- and kubetune's controller asks and tells (the
    last grid point's tell failed the job). The controller stops by count instead: ``effective_trials``
    caps the budget at the grid's size."""

    def after_trial(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        state: optuna.trial.TrialState,
        values: Any,
    ) -> None:
        return None


def build_sampler(
    name: str,
    space: Space,
    seed: int | None,
    n_objectives: int,
    parallelism: int,
    source_trials: list[optuna.trial.FrozenTrial] | None = None,
    n_warm_trials: int = 0,
) -> optuna.samplers.BaseSampler:
    """The configured Optuna sampler; ``source_trials`` (past studies' best trials) warm-start CMA-ES.

    TPE and the Gaussian process draw ``STARTUP_TRIALS`` random configurations before they model the
    space. A warm-started study's first ``n_warm_trials`` are past studies' best configurations: they are
    the start-up sample, so the model proposes from the trial after them instead of adding random draws
    on top, and later random draws are interleaved (``model_after_warm_start``; measured in
    docs/benchmarks.md, warm starts).
    """
    if name == "grid":
        return AskTellGridSampler(grid(space), seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        with _named_in_the_spec():  # group= (conditional spaces) is marked experimental
            tpe = optuna.samplers.TPESampler(
                seed=seed,
                multivariate=True,
                group=is_conditional(space),
                constant_liar=parallelism > 1,
                n_startup_trials=startup_trials(n_warm_trials),
            )
        return model_after_warm_start(tpe, seed, n_warm_trials)
    if name == "gp":
        # torch now rather than at the first ask, so that the controller's thread budget
        # (kubetune.components.execution.thread_budget) holds from that first ask on
        import torch  # noqa: F401

        gp = optuna.samplers.GPSampler(
            seed=seed, deterministic_objective=False, n_startup_trials=startup_trials(n_warm_trials)
        )
        return model_after_warm_start(gp, seed, n_warm_trials)
    if name == "cmaes":
        if n_objectives > 1:
            raise SpecError(
                "search.sampler: cmaes optimizes one objective; use nsga2 or tpe for several"
            )
        # source_trials is marked experimental; its use is deliberate here
        with _named_in_the_spec():
            return optuna.samplers.CmaEsSampler(
                seed=seed, warn_independent_sampling=False, source_trials=source_trials or None
            )
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "nsga3":
        with _named_in_the_spec():
            return optuna.samplers.NSGAIIISampler(seed=seed)
    if name == "qmc":
        with _named_in_the_spec():
            return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)
    raise SpecError(f"search.sampler: unknown sampler '{name}'")


@contextlib.contextmanager
def _named_in_the_spec() -> Iterator[None]:
    """Optuna marks some samplers and arguments experimental (QMC, NSGA-III, CMA-ES's source trials, TPE's
    ``group`` for conditional spaces) and warns, with a source line, on every build; each is used
    deliberately, so the warning is only noise (it reached ``kubetune validate``'s output)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def model_after_warm_start(
    model: optuna.samplers.BaseSampler, seed: int | None, n_warm_trials: int
) -> optuna.samplers.BaseSampler:
    """A model-based sampler as a warm-started study runs it: after the warm trials and
    ``WARM_MODEL_ONLY_TRIALS`` proposals of the model alone, every ``WARM_RANDOM_EVERY``-th trial is a
    random draw, so a study whose past points to the wrong region can still find its own optimum. A
    cold study's random start-up sample already explores, so it gets the model alone."""
    if not n_warm_trials:
        return model
    explorer = optuna.samplers.RandomSampler(seed=None if seed is None else seed + 1)
    return InterleavedSampler(
        model, explorer, start=first_random_trial(n_warm_trials), every=WARM_RANDOM_EVERY
    )


def unstated_settings(name: str, n_warm_trials: int) -> dict[str, str]:
    """Sampler settings the spec does not show (they follow from the warm start), as parent-run tags, so a
    study can be reproduced from its record."""
    if name not in ("tpe", "gp"):
        return {}
    tags = {SAMPLER_STARTUP_TAG: str(startup_trials(n_warm_trials))}
    if n_warm_trials:
        tags[SAMPLER_RANDOM_FROM_TAG] = str(first_random_trial(n_warm_trials))
        tags[SAMPLER_RANDOM_EVERY_TAG] = str(WARM_RANDOM_EVERY)
    return tags


def first_random_trial(n_warm_trials: int) -> int:
    """Where a warm-started TPE's random turns begin: after the warm trials and the model-only ones."""
    return n_warm_trials + WARM_MODEL_ONLY_TRIALS


def startup_trials(n_warm_trials: int) -> int:
    """Trials before TPE or the Gaussian process models the space: the warm-start trials when there are
    any, else random draws."""
    return n_warm_trials or STARTUP_TRIALS


def sampler_for(
    spec: TuneSpec,
    space: Space,
    source_trials: list[optuna.trial.FrozenTrial] | None = None,
    n_warm_trials: int = 0,
    seed: int | None = None,
) -> tuple[SamplerChoice, optuna.samplers.BaseSampler]:
    """The spec's sampler for ``space``: the choice (with its reason) and the configured Optuna sampler.
    ``seed``: this controller session's (kubetune.components.execution.sessions), else the spec's."""
    n_objectives = len(spec.objective.metrics)
    choice = choose_sampler(spec.search.sampler, space, spec.search.n_trials, n_objectives)
    seed = spec.search.seed if seed is None else seed
    parallelism = spec.trials_at_once

    def build(name: str) -> optuna.samplers.BaseSampler:
        return build_sampler(
            name, space, seed, n_objectives, parallelism, source_trials, n_warm_trials
        )

    if choice.fallback is None:
        return choice, build(choice.name)
    return choice, CostAwareSampler(
        build(choice.name), build(choice.fallback), parallelism, choice.name, choice.fallback
    )


def effective_trials(name: str, space: Space, n_trials: int) -> int:
    """A grid never needs more trials than it has points."""
    return min(n_trials, grid_size(grid(space))) if name == "grid" else n_trials
