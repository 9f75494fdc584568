"""Sampled search: a sampler (grid, random, TPE, GP, CMA-ES, NSGA-II) proposes each trial, warm-started
configurations first; a resumed study rebuilds the sampler and the space it began with."""

from __future__ import annotations

import logging

import optuna

from kubetune.components.core import SAMPLER_SWITCH_TAG, SAMPLER_SWITCHED_AT_ATTR
from kubetune.components.execution import (
    Executor,
    TrialsSummary,
    session_seed,
    start_session,
    storage_url,
)
from kubetune.components.pipeline.search_strategy import (
    SearchContext,
    SearchStrategy,
    make_request_factory,
)
from kubetune.components.pipeline.warm_start import (
    enqueue_warm_start,
    narrowed_space_of,
    warm_trials_of,
)
from kubetune.components.search import (
    CostAwareSampler,
    SamplerChoice,
    effective_trials,
    open_study,
    sampler_for,
    space_fingerprint,
    unstated_settings,
)
from kubetune.components.warmstart import cmaes_source_trials, describe_ranges, narrowed_ranges

log = logging.getLogger("kubetune")


class SampledSearch(SearchStrategy):
    def __init__(self, context: SearchContext) -> None:
        super().__init__(context)
        warm = context.warm
        self.space = warm.narrowed if warm and warm.narrowed else context.space
        self.choice: SamplerChoice | None = None

    def open_study(self, storage: optuna.storages.BaseStorage) -> optuna.Study:
        spec, prepared, warm = self.spec, self.context.prepared, self.context.warm
        full_space = self.context.space
        directions = spec.objective.directions
        source_trials = cmaes_source_trials(warm, self.space, directions[0]) if warm else []
        # the warm trials stand in for TPE's random start-up
        n_warm = len(warm.configs) if warm else 0
        choice, sampler = sampler_for(spec, self.space, source_trials, n_warm)
        # the fingerprint is the spec's space: a resume is judged on what the user wrote, not on the box
        fingerprint = space_fingerprint(full_space)
        study, resumed = open_study(
            spec.study_name, storage, sampler, directions, fingerprint, prepared.fingerprint
        )
        if resumed:
            log.info(
                "resuming study %s with %d trial(s) recorded", spec.study_name, len(study.trials)
            )
            # the sampler the study began with: the same start-up and random turns, in the box it
            # began with rather than one from today's history
            n_warm = warm_trials_of(study)
            self.space = narrowed_space_of(study) or full_space
            if self.space is not full_space:
                ranges = describe_ranges(narrowed_ranges(full_space, self.space))
                log.info("searching the narrowed space the study began with: %s", ranges)
        elif warm is not None:
            enqueue_warm_start(study, warm)
        session = start_session(study, storage_url(spec.storage.url))
        if resumed or session > 0:  # a later session draws from its own stream: no repeated draws
            seed = session_seed(spec.search.seed, session)
            choice, study.sampler = sampler_for(spec, self.space, source_trials, n_warm, seed=seed)
        # what the spec does not show
        if not resumed and (tags := unstated_settings(choice.name, n_warm)):
            self.context.tracker.set_tags(self.context.parent_run_id, tags)
        self.choice = choice
        return study

    def run(self, study: optuna.Study, executor: Executor) -> TrialsSummary:
        assert self.choice is not None, "open_study first"
        n_trials = effective_trials(self.choice.name, self.space, self.spec.search.n_trials)
        make_request = make_request_factory(self.spec, self.context.prepared, self.space)
        try:
            return self.controller(study, executor, self.space, make_request, n_trials).run()
        finally:
            self._record_switch(study.sampler)

    def _record_switch(self, sampler: optuna.samplers.BaseSampler) -> None:
        """``auto`` handed the study to its fallback: say when and why on the parent run."""
        if not isinstance(sampler, CostAwareSampler) or sampler.decision is None:
            return
        decision = sampler.decision
        parent = self.context.parent_run_id
        self.context.tracker.set_tags(
            parent,
            {
                SAMPLER_SWITCH_TAG: decision.describe(sampler.model_name, sampler.fallback_name),
                SAMPLER_SWITCHED_AT_ATTR: str(decision.at_trial),
            },
        )
        self.context.tracker.log_metrics(
            parent,
            {
                "sampler_switch_ask_seconds": decision.ask_seconds,
                "sampler_switch_trial_seconds": decision.trial_seconds,
                "sampler_switch_ask_share": decision.share,
            },
        )
