"""A model-based sampler with random configurations interleaved: what keeps a warm start from hurting.

A warm-started TPE or Gaussian-process study models the space from its warm trials alone (they are its start-up sample, see
``kubetune.components.search.samplers``). When the past points to the wrong region -- a dataset whose nearest past studies
had heavily regularised optima while its own is not -- the model keeps proposing near those trials and the
study can end worse than a cold one, which would have drawn random start-up trials across the whole
space. SMAC's remedy, kept by auto-sklearn for its meta-learned warm starts, is to interleave random
configurations with the model's proposals (Hutter et al., "Sequential model-based optimization for
general algorithm configuration", 2011): the model still drives most trials, and a region the past
missed is found by a random draw, after which the model follows it.

Which trials are random is a pure function of the trial number, so every controller and worker sharing
one study storage agrees, and a seeded study is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState


def is_random_turn(number: int, start: int, every: int) -> bool:
    """From trial ``start`` on, every ``every``-th trial (the last of each group of ``every``) is random."""
    return every > 0 and number >= start and (number - start) % every == every - 1


class InterleavedSampler(BaseSampler):
    """``model`` proposes every trial except the random turns (``is_random_turn``), which ``explorer`` draws."""

    def __init__(self, model: BaseSampler, explorer: BaseSampler, start: int, every: int) -> None:
        self.model = model
        self.explorer = explorer
        self.start = start
        self.every = every

    def _random(self, trial: FrozenTrial) -> bool:
        return is_random_turn(trial.number, self.start, self.every)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {} if self._random(trial) else self.model.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {} if self._random(trial) else self.model.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        sampler = self.explorer if self._random(trial) else self.model
        return sampler.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.model.before_trial(study, trial)
        self.explorer.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.model.after_trial(study, trial, state, values)
        self.explorer.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.model.reseed_rng()
        self.explorer.reseed_rng()
