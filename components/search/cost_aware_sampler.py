"""``sampler: auto``'s Gaussian process, kept only while its asks cost a small share of the study's time.

The GP proposes better configurations than TPE on small all-numeric budgets, but each ask fits a kernel
and optimises an acquisition function: 0.1-0.6 s on two cores, growing with the trials. Where a trial
takes minutes that is noise; where trials take a second (small tabular data) the controller spends as
long asking as the workers spend training, and on a laptop the ask takes a core from a worker too. So
``auto`` measures both as the study runs -- the model's seconds per ask, and the trials' seconds as the
workers report them -- and hands the rest of the study to TPE (as kubetune configures it) once the ask
would take more than ``MAX_ASK_SHARE`` of the time between two trials finishing (a trial's seconds over
the parallelism: how often the controller must have a new configuration ready).

The decision is taken once and kept: the trial it was taken at is a study attribute, so a resumed study
goes on with TPE, and the parent run records it with the figures it stood on. Because it rests on
measured times, two runs of one seeded spec can switch at different trials; a spec that names its
sampler is reproducible trial for trial.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from kubetune.components.core import SAMPLER_SWITCHED_AT_ATTR

log = logging.getLogger("kubetune")

MAX_ASK_SHARE = (
    0.2  # of the time between two trials finishing; more and the GP's quality is not worth its wait
)
RECENT_ASKS = 5  # the GP's cost grows with the trials: judge on its latest asks
MIN_TRIALS_MEASURED = 3  # finished trials before their duration is trusted


@dataclass(frozen=True)
class SwitchDecision:
    """Why ``auto`` moved from the model to the fallback, in the figures it stood on."""

    at_trial: int
    ask_seconds: float  # median of the model's latest asks
    trial_seconds: float  # median duration of the finished trials, as their workers measured it
    parallelism: int

    @property
    def share(self) -> float:
        return ask_share(self.ask_seconds, self.trial_seconds, self.parallelism)

    def describe(self, model: str, fallback: str) -> str:
        return (
            f"from trial {self.at_trial} on: {model}'s asks took {self.ask_seconds:.2f} s, "
            f"{self.share:.0%} of the {self.trial_seconds / self.parallelism:.2f} s between two "
            f"trials finishing ({self.trial_seconds:.2f} s trials on {self.parallelism} worker(s)); "
            f"more than {MAX_ASK_SHARE:.0%}, so {fallback} proposes the rest"
        )


def ask_share(ask_seconds: float, trial_seconds: float, parallelism: int) -> float:
    """The ask's time over the time between two trials finishing (``trial_seconds / parallelism``)."""
    between = max(trial_seconds, 1e-9) / max(parallelism, 1)
    return ask_seconds / between


def should_switch(
    ask_seconds: Sequence[float], trial_seconds: Sequence[float], parallelism: int
) -> bool:
    """Pure: whether the model's recent asks cost more than ``MAX_ASK_SHARE`` of the study's time."""
    if len(ask_seconds) < RECENT_ASKS or len(trial_seconds) < MIN_TRIALS_MEASURED:
        return False
    recent = statistics.median(ask_seconds[-RECENT_ASKS:])
    return ask_share(recent, statistics.median(trial_seconds), parallelism) > MAX_ASK_SHARE


class CostAwareSampler(BaseSampler):
    """``model`` proposes until its asks cost too much (``should_switch``), then ``fallback`` does.

    The controller reports each finished trial's duration (``observe_trial``); the model's ask time is
    measured here, around ``sample_relative``, where a GP or TPE does its work.
    """

    def __init__(
        self,
        model: BaseSampler,
        fallback: BaseSampler,
        parallelism: int,
        model_name: str = "gp",
        fallback_name: str = "tpe",
    ) -> None:
        self.model = model
        self.fallback = fallback
        self.parallelism = parallelism
        self.model_name = model_name
        self.fallback_name = fallback_name
        self.ask_seconds: list[float] = []
        self.trial_seconds: list[float] = []
        self.decision: SwitchDecision | None = None
        self._switched_at: int | None = None
        self._read_from_study = False

    # -- what the controller tells it -----------------------------------------------------------------

    def observe_trial(self, duration_s: float) -> None:
        """A trial finished (complete, pruned or failed) after ``duration_s`` seconds of its worker's time."""
        if duration_s > 0:
            self.trial_seconds.append(duration_s)

    # -- which sampler proposes a trial -----------------------------------------------------------------

    def _active(self, study: optuna.Study, trial: FrozenTrial) -> BaseSampler:
        if not self._read_from_study:  # a resumed study keeps the switch it made
            self._read_from_study = True
            recorded = study.user_attrs.get(SAMPLER_SWITCHED_AT_ATTR)
            self._switched_at = int(recorded) if recorded is not None else None
        if self._switched_at is not None and trial.number >= self._switched_at:
            return self.fallback
        return self.model

    def _maybe_switch(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self._switched_at is not None or not should_switch(
            self.ask_seconds, self.trial_seconds, self.parallelism
        ):
            return
        self.decision = SwitchDecision(
            at_trial=trial.number + 1,
            ask_seconds=statistics.median(self.ask_seconds[-RECENT_ASKS:]),
            trial_seconds=statistics.median(self.trial_seconds),
            parallelism=self.parallelism,
        )
        self._switched_at = self.decision.at_trial
        study.set_user_attr(SAMPLER_SWITCHED_AT_ATTR, self._switched_at)
        log.info("sampler auto: %s", self.decision.describe(self.model_name, self.fallback_name))

    # -- Optuna's sampler interface -----------------------------------------------------------------------

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._active(study, trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        sampler = self._active(study, trial)
        if sampler is not self.model:
            return sampler.sample_relative(study, trial, search_space)
        started = time.perf_counter()
        params = sampler.sample_relative(study, trial, search_space)
        if params:  # the model proposed (not one of its random start-up draws): its cost counts
            self.ask_seconds.append(time.perf_counter() - started)
            self._maybe_switch(study, trial)
        return params

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._active(study, trial).sample_independent(
            study, trial, param_name, param_distribution
        )

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._active(study, trial).before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.model.after_trial(study, trial, state, values)
        self.fallback.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.model.reseed_rng()
        self.fallback.reseed_rng()
