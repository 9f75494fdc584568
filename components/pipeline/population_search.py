"""Population-based training on any executor: rounds of trials, exploit/explore between them.

Each member's round is an ordinary trial of the study (enqueued with its settings, so Optuna, MLflow,
heartbeats, retries and the Kubernetes executor work unchanged); its user attributes carry the member,
generation, checkpoints and lineage (kubetune.components.search.pbt_rounds), which the controller
copies to the trial's MLflow run as ``kubetune.pbt.*`` tags. Between rounds kubetune.components.search.pbt
decides who copies whom. The parent run gets ``pbt_lineage.json``: every round, whose checkpoint it
started from, at which epoch, with which settings.

Because the rounds live on the study's trials, a stopped PBT study resumes like any other: the same
command reads back the generations already planned, runs what is left of the last one (its
interrupted rounds were re-queued), and plans the rest. Each generation draws from its own generator,
seeded by the study seed and the generation, so a resumed study plans what an uninterrupted one would.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import optuna

from kubetune.components.core import (
    PBT_BEST_MEMBER_TAG,
    PBT_BEST_TRIAL_TAG,
    PBT_INTERVAL_ATTR,
    StudyConflictError,
    TrialRequest,
    storage_of,
)
from kubetune.components.data import ArtifactError, delete, join
from kubetune.components.execution import Executor, TrialsSummary
from kubetune.components.models import get_family
from kubetune.components.pipeline.search_strategy import (
    SearchContext,
    SearchOutcome,
    SearchStrategy,
    make_request_factory,
)
from kubetune.components.pipeline.warm_start import warm_provenance
from kubetune.components.search import (
    MemberRound,
    RoundResult,
    check_resume,
    checkpoint_uri,
    first_generation,
    generation_results,
    generation_rng,
    member_space,
    next_generation,
    open_study,
    replay_schedule,
    round_attrs,
    round_of,
    space_fingerprint,
)

log = logging.getLogger("kubetune")


class PopulationSearch(SearchStrategy):
    def __init__(self, context: SearchContext) -> None:
        super().__init__(context)
        self.settings = context.spec.search.pbt
        self.family = get_family(context.spec.model.family)
        self.members_space = member_space(context.spec, context.space)
        # beside the prepared data: local folder or S3
        self.root = join(context.prepared.train_uri.rsplit("/", 1)[0], "pbt")
        self.recorded: dict[int, list[MemberRound]] = {}
        self.lineage: list[dict[str, Any]] = []

    def open_study(self, storage: optuna.storages.BaseStorage) -> optuna.Study:
        spec, settings = self.spec, self.settings
        study, resumed = open_study(
            spec.study_name,
            storage,
            optuna.samplers.RandomSampler(seed=spec.search.seed),
            spec.objective.directions,
            space_fingerprint(self.members_space),
            self.context.prepared.fingerprint,
        )
        self.recorded = (
            check_resume(spec.study_name, study, settings.population, settings.interval)
            if resumed
            else {}
        )
        if resumed and study.trials and not self.recorded:
            raise StudyConflictError(
                f"study '{spec.study_name}' holds trials that are not population-based training; use another --study-name"
            )
        if PBT_INTERVAL_ATTR not in study.user_attrs:
            study.set_user_attr(PBT_INTERVAL_ATTR, settings.interval)
        if self.recorded:
            log.info(
                "pbt: resuming study %s at generation %d of %d",
                spec.study_name,
                max(self.recorded),
                settings.generations,
            )
        return study

    def run(self, study: optuna.Study, executor: Executor) -> TrialsSummary:
        """All generations. The warm start's configurations (at most the population) are the first
        members' initial settings, and their first rounds carry the past run they came from."""
        spec, settings, recorded = self.spec, self.settings, self.recorded
        direction = spec.objective.directions[0]
        base_request = make_request_factory(spec, self.context.prepared, self.members_space)
        storage = storage_of(study)

        def make_request(number: int, trial_id: int, params: dict[str, Any]) -> TrialRequest:
            round_ = round_of(storage.get_trial_user_attrs(trial_id), settings.interval)
            return base_request(number, trial_id, params).model_copy(update={"pbt": round_})

        total = TrialsSummary()
        warm = self.context.warm
        starts = (warm.configs if warm else [])[: settings.population]
        rounds = (
            []
            if 0 in recorded
            else first_generation(
                self.members_space,
                settings.population,
                generation_rng(spec.search.seed, 0),
                [c.params for c in starts],
            )
        )
        if starts:
            log.info("pbt: members 0-%d start from warm-start configurations", len(starts) - 1)
        for generation in range(settings.generations):
            if generation in recorded:
                # planned and enqueued by the run that stopped; its controller finishes them
                rounds = recorded[generation]
            else:
                for round_ in rounds:
                    attrs = round_attrs(round_, self.root, settings.interval)
                    if generation == 0 and round_.member < len(starts):
                        attrs |= warm_provenance(starts[round_.member])
                    study.enqueue_trial(round_.params, user_attrs=attrs, skip_if_exists=False)
            n_trials = (generation + 1) * settings.population
            total.add(
                self.controller(study, executor, self.members_space, make_request, n_trials).run()
            )
            if settings.keep_checkpoints == "last" and generation > 0:
                # generation g trained from them; nobody reads them again
                drop_checkpoints(self.root, generation - 1, settings.population)
            results = generation_results(study, generation)
            self.lineage += [
                r.lineage()
                | {"value": _value_of(results, r.member), "trial": _trial_of(results, r.member)}
                for r in rounds
            ]
            done = [r for r in results if r.value is not None]
            log.info(
                "pbt generation %d: %d/%d members trained, best %s",
                generation,
                len(done),
                len(results),
                _best(done, direction),
            )
            if generation + 1 < settings.generations and generation + 1 not in recorded:
                rounds = next_generation(
                    results,
                    self.members_space,
                    self.family.structure,
                    direction,
                    generation + 1,
                    generation_rng(spec.search.seed, generation + 1),
                    settings.quantile,
                    tuple(settings.perturb),
                    settings.resample_probability,
                )
        return total

    def best(self, study: optuna.Study, summary: TrialsSummary) -> SearchOutcome | str:
        """The best member of the last generation, trained for every round's epochs; the refit replays
        its schedule (the settings it trained with, round by round)."""
        settings, tracker, parent = self.settings, self.context.tracker, self.context.parent_run_id
        tracker.log_dict(
            parent,
            {
                "population": settings.population,
                "interval": settings.interval,
                "rounds": self.lineage,
            },
            "pbt_lineage.json",
        )
        last = [
            r for r in generation_results(study, settings.generations - 1) if r.value is not None
        ]
        if not last:
            return f"no member finished the last generation; first error: {summary.first_error or 'unknown'}"
        direction = self.spec.objective.directions[0]
        sign = 1.0 if direction == "minimize" else -1.0
        best = min(last, key=lambda r: sign * (r.value if r.value is not None else math.inf))
        fidelity = self.family.fidelity
        params = dict(best.params) | (
            {fidelity.param: settings.generations * settings.interval} if fidelity else {}
        )
        tracker.set_tags(
            parent,
            {PBT_BEST_MEMBER_TAG: str(best.member), PBT_BEST_TRIAL_TAG: str(best.trial_number)},
        )
        schedule = replay_schedule(
            self.lineage,
            best.member,
            settings.generations,
            settings.interval,
            self.spec.search.seed,
        )
        return SearchOutcome(
            best.trial_number,
            params,
            [best.value if best.value is not None else math.nan],
            summary,
            len(study.trials),
            schedule=schedule,
        )


def drop_checkpoints(root: str, generation: int, population: int) -> None:
    """Delete one generation's checkpoints (``keep_checkpoints: last``). The refit replays the schedule
    from scratch and later rounds read only the generation before theirs, so nothing needs them; a
    deletion that fails costs disk, not the study."""
    for member in range(population):
        uri = checkpoint_uri(root, generation, member)
        try:
            delete(uri)
        except ArtifactError as error:
            log.warning("pbt: could not delete checkpoint %s: %s", uri, error)


def _value_of(results: list[RoundResult], member: int) -> float | None:
    return next((r.value for r in results if r.member == member), None)


def _trial_of(results: list[RoundResult], member: int) -> int | None:
    return next((r.trial_number for r in results if r.member == member), None)


def _best(results: list[RoundResult], direction: str) -> str:
    if not results:
        return "n/a"
    values = [r.value for r in results if r.value is not None]
    return f"{(max(values) if direction == 'maximize' else min(values)):.5g}"
