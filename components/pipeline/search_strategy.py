"""What a search strategy supplies to the one search orchestration (kubetune.components.pipeline.search_run).

The orchestration opens the storage and the executor, runs the strategy, turns a cluster problem into
a failed search that closes the parent run with its reason, and picks what to refit. A strategy only
says how its study is opened, how trials are proposed (a sampler's asks, or a population's rounds),
and which trial is best -- as scikit-learn's BaseSearchCV leaves only ``_run_search`` to subclasses.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import optuna

from kubetune.components.core import (
    FAILURE_REASON,
    PARETO_SIZE_TAG,
    SELECTED_TRIAL_TAG,
    SELECTION_TAG,
    TrialRequest,
)
from kubetune.components.execution import (
    Executor,
    RequestFactory,
    StudyController,
    TrialsSummary,
    storage_url,
)
from kubetune.components.models import get_family
from kubetune.components.pipeline.data_preparation import PreparedData
from kubetune.components.search import Space, best_trial, front_rows, resolve_pruner, select
from kubetune.components.spec import TuneSpec
from kubetune.components.tracking import Tracker, pareto_png
from kubetune.components.warmstart import WarmStartPlan

log = logging.getLogger("kubetune")


@dataclass
class SearchOutcome:
    best_number: int | None  # None when no trial completed
    best_params: dict[str, Any]
    best_values: list[float]
    summary: TrialsSummary
    n_trials_total: int
    failure: str | None = None
    # population-based training: the rounds the refit replays
    schedule: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class SearchContext:
    """Everything a search is run with: the job's spec and data, the space, the warm start, and the
    parent run the trials nest under."""

    spec: TuneSpec
    prepared: PreparedData
    space: Space
    warm: WarmStartPlan | None
    tracker: Tracker
    parent_run_id: str
    progress: bool


def make_request_factory(spec: TuneSpec, prepared: PreparedData, space: Space) -> RequestFactory:
    """Requests differ only by trial; everything else (data, metrics, storage for heartbeats, the
    pruner's resolved settings) is shared."""
    family = get_family(spec.model.family)
    pruner = resolve_pruner(
        spec.search.pruner, family.fidelity, space, spec.model.params, spec.validation.folds
    )
    template = request_template(spec, prepared).model_copy(update={"pruner": pruner})

    def make_request(number: int, trial_id: int, params: dict[str, Any]) -> TrialRequest:
        return template.model_copy(
            update={"trial_number": number, "trial_id": trial_id, "params": params}
        )

    return make_request


def request_template(spec: TuneSpec, prepared: PreparedData) -> TrialRequest:
    """What every trial of the job is given: the data, the target, the metrics, the validation, the
    storage its heartbeats go to; the number, id and configuration are each trial's own."""
    return TrialRequest(
        study_name=spec.study_name,
        trial_number=-1,
        params={},
        fixed_params=spec.model.params,
        family=spec.model.family,
        task=prepared.facts.task,
        n_classes=prepared.facts.n_classes,
        positive_class=prepared.facts.positive_class,
        data_uri=prepared.train_uri,
        target=spec.data.target,
        drop=spec.data.drop,
        metrics=spec.objective.metrics,
        validation=prepared.facts.validation,
        folds=spec.validation.folds,
        val_size=spec.validation.val_size,
        seed=spec.search.seed,
        storage_url=storage_url(spec.storage.url),
        heartbeat_interval=spec.storage.heartbeat_interval,
    )


class SearchStrategy(ABC):
    """Sampled search or population-based training, as the orchestration drives it."""

    def __init__(self, context: SearchContext) -> None:
        self.context = context
        self.spec = context.spec

    @abstractmethod
    def open_study(self, storage: optuna.storages.BaseStorage) -> optuna.Study:
        """Create the study, or resume it after checking it can be; enqueue what must run first."""

    @abstractmethod
    def run(self, study: optuna.Study, executor: Executor) -> TrialsSummary:
        """Run the trials; a ClusterProblem raised here ends the search as failed, with its reason."""

    def best(self, study: optuna.Study, summary: TrialsSummary) -> SearchOutcome | str:
        """The configuration to refit, or why there is none. Several objectives: the spec's rule
        picks from the Pareto front, which is logged as a table and a plot."""
        complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
        if not complete:
            first = summary.first_error or next(
                (
                    t.user_attrs.get(FAILURE_REASON)
                    for t in study.trials
                    if t.user_attrs.get(FAILURE_REASON)
                ),
                "no trial finished",
            )
            failure = f"all {len(study.trials)} trials failed; first error: {first}"
            # a re-run after fixing the cause resumes a study whose budget is spent
            if not summary.ran_this_time:
                failure += " (all recorded by an earlier run: the study's budget is spent, so nothing ran now; --study-name NEW starts afresh)"
            return failure
        if len(self.spec.objective.metrics) > 1:
            return self._select_from_front(study, summary)
        trial = best_trial(study)
        return SearchOutcome(
            trial.number, dict(trial.params), list(trial.values), summary, len(study.trials)
        )

    def controller(
        self,
        study: optuna.Study,
        executor: Executor,
        space: Space,
        make_request: RequestFactory,
        n_trials: int,
    ) -> StudyController:
        spec = self.spec
        return StudyController(
            study,
            space,
            executor,
            self.context.tracker,
            self.context.parent_run_id,
            make_request,
            spec.objective.metrics,
            n_trials=n_trials,
            timeout=spec.search.timeout,
            progress=self.context.progress,
            max_retries=spec.search.max_retries,
        )

    def _select_from_front(
        self, study: optuna.Study, summary: TrialsSummary
    ) -> SearchOutcome | str:
        spec, tracker, parent = self.spec, self.context.tracker, self.context.parent_run_id
        metrics = spec.objective.metrics
        best_trials = {t.number: t for t in study.best_trials}
        front = front_rows(list(best_trials.values()), metrics)
        everything = front_rows(
            [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"], metrics
        )
        selection = select(front, metrics, spec.objective.directions, spec.objective.select)
        chosen = selection.row["trial"] if selection.row else None
        tracker.log_table(parent, front, "pareto_front.json")
        tracker.log_image(
            parent, pareto_png(everything, front, metrics, chosen), "pareto_front.png"
        )
        tracker.set_tags(
            parent, {PARETO_SIZE_TAG: str(len(front)), SELECTION_TAG: selection.reason}
        )
        log.info("Pareto front: %d trial(s); %s", len(front), selection.reason)
        if chosen is None:
            return selection.reason
        trial = best_trials[chosen]
        tracker.set_tags(parent, {SELECTED_TRIAL_TAG: str(chosen)})
        return SearchOutcome(
            chosen, dict(trial.params), list(trial.values), summary, len(study.trials)
        )
