"""The steps of one tuning job, as plain functions; ``flows/tune.py`` runs each as a Prefect task.

Keeping them here (no Prefect import) means they are unit-testable, reusable by the retrain flow, and
the flow file reads as the pipeline's outline and nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import yaml

from kubetune.components.data import artifact_root
from kubetune.components.execution import StudyController, TrialsSummary
from kubetune.components.execution import ClusterProblem, KubernetesExecutor
from kubetune.components.execution import LocalExecutor
from kubetune.components.search import front_rows, select
from kubetune.components.tracking import pareto_png
from kubetune.components.pipeline.preflight import checked_space, identifier_notice
from kubetune.components.pipeline.prepare import PreparedData, prepare_data, split_row_ids, workdir_for
from kubetune.components.tracking import all_package_versions, git_commit, package_versions
from kubetune.components.core import DATA_TAG, FAILURE_REASON, NARROWED_SPACE_ATTR, PARETO_SIZE_TAG, PIPELINE_TAG, REFIT_TAG, REGISTERED_TAG, SELECTED_TRIAL_TAG, SELECTION_TAG, VERSION_PREFIX, WARM_KIND, WARM_MODE_TAG, WARM_NARROWED_TAG, WARM_N_CONFIGS_TAG, WARM_SOURCE_RUN, WARM_SOURCE_STUDY, WARM_START_PREFIX, WARM_TRIALS_ATTR, WARM_USED_TAG, error_reason, redact_mapping
from kubetune.components.evaluation import refit_and_evaluate
from kubetune.components.models import get_family
from kubetune.components.search import resolve_pruner
from kubetune.components.warmstart import META_PREFIX, read_history, write_record
from kubetune.components.evaluation import scores_a_positive_class
from kubetune.components.registry import WantedRefit, find_reusable_refit
from kubetune.components.search import choose_sampler, effective_trials, sampler_for, unstated_settings
from kubetune.components.search import Space, space_fingerprint, to_jsonable
from kubetune.components.spec import ParamSpec, TuneSpec
from kubetune.components.execution import open_storage, storage_url
from kubetune.components.search import best_trial, open_study
from kubetune.components.tracking import Tracker, param_value, resolve_tracking_uri, run_url, safe_uri
from kubetune.components.core import TrialRequest
from kubetune.components.warmstart import describe_ranges, narrowed_ranges
from kubetune.components.warmstart import CurrentStudy, WarmConfig, WarmStartPlan, cmaes_source_trials, plan_warm_start

log = logging.getLogger("kubetune")


def prepare(spec: TuneSpec) -> PreparedData:
    """Read and check the data, split off the held-out test set, write both parts under the study's workdir."""
    return prepare_data(spec, workdir_for(spec.study_name), artifact_root(spec.artifacts.uri))


def make_tracker(spec: TuneSpec) -> Tracker:
    return Tracker(resolve_tracking_uri(spec.tracking.mlflow_uri), spec.tracking.experiment or spec.study_name)


def start_study_run(spec: TuneSpec, prepared: PreparedData, space: Space) -> tuple[str, bool]:
    """The parent run: spec, data fingerprint, git commit, seed, sampler choice, package versions."""
    tracker = make_tracker(spec)
    choice = choose_sampler(spec.search.sampler, space, spec.search.n_trials, len(spec.objective.metrics))
    versions = package_versions()
    params = {
        "study": spec.study_name,
        "model_family": spec.model.family,
        "metric": ",".join(spec.objective.metrics),
        "direction": ",".join(spec.objective.directions),
        "strategy": spec.search.strategy,
        "sampler": choice.name if spec.search.strategy == "sample" else "pbt",
        "sampler_reason": choice.reason if spec.search.strategy == "sample" else "population-based training",
        "pruner": spec.search.pruner.kind,
        "n_trials": spec.search.n_trials,
        "parallelism": spec.search.parallelism,
        "seed": spec.search.seed,
        "data_source": spec.data.source,
        "executor": spec.executor.kind,
        "study_storage": safe_uri(storage_url(spec.storage.url)),
        "train_data_uri": prepared.train_uri,
        **prepared.as_params(),
    }
    tags = {
        "mlflow.source.git.commit": git_commit() or "unknown",
        DATA_TAG: prepared.fingerprint,
        PIPELINE_TAG: spec.pipeline,
        **{f"{VERSION_PREFIX}{name}": version for name, version in versions.items()},
    }
    run_id, resumed = tracker.start_study_run(spec.study_name, params, tags)
    if not resumed:
        raw_spec = redact_mapping(spec.model_dump(mode="json", exclude_none=True))
        tracker.log_text(run_id, yaml.safe_dump(raw_spec, sort_keys=False), "spec.yaml")
        tracker.log_dict(run_id, to_jsonable(space), "search_space.json")
        tracker.log_dict(run_id, all_package_versions(), "environment/packages.json")
        tracker.log_dict(run_id, split_row_ids(prepared), "split/row_ids.json")
        tracker.log_metrics(run_id, {f"{META_PREFIX}{name}": value for name, value in prepared.meta_features.items()})
        tracker.log_dict(run_id, prepared.meta_features, "meta_features.json")
    log.info("sampler %s: %s", params["sampler"], params["sampler_reason"])
    notice = identifier_notice(prepared.facts.identifier_columns)
    if notice:
        log.warning("%s", notice)
    scored = [m for m in spec.objective.metrics if scores_a_positive_class(m)]
    chosen = prepared.facts.positive_class
    if scored and spec.objective.positive_class is None and chosen is not None and chosen is not True and chosen != 1:
        log.info("%s score%s the class %r, the later label in sort order (objective.positive_class chooses another)",
                 ", ".join(scored), "s" if len(scored) == 1 else "", chosen)
    return run_id, resumed


# trial user attrs, copied to the trial's MLflow run as tags (controller) and kept by re-runs (requeue)


def warm_start_plan(spec: TuneSpec, prepared: PreparedData, space: Space, parent_run_id: str, resumed: bool) -> WarmStartPlan:
    """Past configurations to run first (kubetune.components.warmstart.planner), read from the MLflow store; logged to the
    parent run as tags and ``warm_start.json``. A resumed study already has its first trials."""
    settings = spec.warm_start
    if resumed:
        return WarmStartPlan(settings.mode, "resumed", message="study resumed; its warm start was planned when it began")
    tracker = make_tracker(spec)
    current = CurrentStudy(
        study=spec.study_name,
        pipeline=spec.pipeline,
        family=spec.model.family,
        task=prepared.facts.task,
        metric=spec.objective.metrics[0],
        direction=spec.objective.directions[0],
        meta=prepared.meta_features,
    )
    history = [] if settings.mode == "none" else _read_history_or_nothing(tracker)
    plan = plan_warm_start(
        settings.mode,
        current,
        space,
        history,
        k_nearest=settings.k_nearest,
        top_k=settings.top_k,
        pipeline_top_k=settings.pipeline_top_k,
        max_configs=warm_start_limit(spec),
        narrow_space=settings.narrow_space,
    )
    log.info("%s", plan.message)
    tracker.set_tags(parent_run_id, {WARM_MODE_TAG: plan.mode, WARM_USED_TAG: plan.used, WARM_N_CONFIGS_TAG: str(len(plan.configs))})
    tracker.log_dict(parent_run_id, plan.as_json(), "warm_start.json")
    if plan.narrowed is not None:  # beside search_space.json: the space the trials are actually drawn from
        tracker.log_dict(parent_run_id, to_jsonable(plan.narrowed), "search_space_narrowed.json")
        tracker.set_tags(parent_run_id, {WARM_NARROWED_TAG: describe_ranges(plan.box)})
    return plan


def _read_history_or_nothing(tracker: Tracker) -> list:
    """A meta-store that cannot be read costs the warm start, never the study."""
    try:
        return read_history(tracker.client, tracker.tracking_uri)
    except Exception as error:  # noqa: BLE001 - MLflow raises many types; the study must go on cold
        reason = error_reason(error)
        log.warning("warm start: the meta-store could not be read (%s); cold start", reason)
        return []




def enqueue_warm_start(study: Any, plan: WarmStartPlan) -> None:
    """The plan's configurations become the study's first trials; their provenance rides on user attrs,
    their number on the study, so that a resumed study builds its sampler as the first run did."""
    study.set_user_attr(WARM_TRIALS_ATTR, len(plan.configs))
    record_narrowed_space(study, plan)
    for config in plan.configs:
        study.enqueue_trial(config.params, user_attrs=warm_provenance(config))




def record_narrowed_space(study: Any, plan: WarmStartPlan) -> None:
    if plan.narrowed is not None:
        study.set_user_attr(NARROWED_SPACE_ATTR, to_jsonable(plan.narrowed))


def narrowed_space_of(study: Any) -> Space | None:
    """The box a study began with (``warm_start.narrow_space``), so that a resume searches the same space."""
    raw = study.user_attrs.get(NARROWED_SPACE_ATTR)
    return None if raw is None else {name: ParamSpec.model_validate(param) for name, param in raw.items()}


def warm_trials_of(study: Any) -> int:
    """How many warm-start trials ``study`` began with (0 for a cold one or one begun before this was kept)."""
    return int(study.user_attrs.get(WARM_TRIALS_ATTR, 0))


def warm_provenance(config: WarmConfig) -> dict[str, str]:
    """The user attrs (MLflow tags on the trial's run) naming the past run a warm-start trial came from."""
    return {WARM_SOURCE_RUN: config.source_run_id, WARM_SOURCE_STUDY: config.source_study, WARM_KIND: config.kind}


def warm_start_limit(spec: TuneSpec) -> int:
    """Warm-start configurations at most: ``warm_start.max_trials``, else half the first trials (up to
    10) -- a study keeps room for its sampler, a PBT population for its random members."""
    first = spec.search.pbt.population if spec.search.strategy == "pbt" else spec.search.n_trials
    return min(spec.warm_start.max_trials or min(10, max(1, first // 2)), first)


def make_request_factory(spec: TuneSpec, prepared: PreparedData, space: Space):  # noqa: ANN201
    """Requests differ only by trial; everything else (data, metrics, storage for heartbeats, the
    pruner's resolved settings) is shared."""
    family = get_family(spec.model.family)
    pruner = resolve_pruner(spec.search.pruner, family.fidelity, space, spec.model.params, spec.validation.folds)
    template = TrialRequest(
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
        pruner=pruner,
    )

    def make_request(number: int, trial_id: int, params: dict[str, Any]) -> TrialRequest:
        return template.model_copy(update={"trial_number": number, "trial_id": trial_id, "params": params})

    return make_request


@dataclass
class SearchOutcome:
    best_number: int | None  # None when no trial completed
    best_params: dict[str, Any]
    best_values: list[float]
    summary: TrialsSummary
    n_trials_total: int
    failure: str | None = None
    schedule: list[dict[str, Any]] | None = None  # population-based training: the rounds the refit replays


def make_executor(spec: TuneSpec, storage: Any) -> Any:
    """Local worker processes, or Kubernetes Jobs whose results are read from the shared study storage."""
    if spec.executor.kind == "local":
        return LocalExecutor(spec.search.parallelism, spec.search.trial_timeout)
    from kubetune.components.execution import read_published

    def read_result(number: int) -> Any:  # the study exists by the time any pod has finished
        study_id = storage.get_study_id_from_name(spec.study_name)
        return read_published(storage, storage.get_trial_id_from_study_id_trial_number(study_id, number))

    return KubernetesExecutor(spec.executor.kubernetes, spec.study_name, spec.search.parallelism, read_result, spec.search.trial_timeout)


def run_search(
    spec: TuneSpec, prepared: PreparedData, space: Space, parent_run_id: str, progress: bool, warm: WarmStartPlan | None = None
) -> SearchOutcome:
    if spec.search.strategy == "pbt":
        from kubetune.components.pipeline.pbt_search import run_pbt

        return run_pbt(spec, prepared, space, parent_run_id, progress, warm)
    full_space, space = space, (warm.narrowed if warm and warm.narrowed else space)
    source_trials = cmaes_source_trials(warm, space, spec.objective.directions[0]) if warm else []
    n_warm = len(warm.configs) if warm else 0  # the warm trials stand in for TPE's random start-up
    choice, sampler = sampler_for(spec, space, source_trials, n_warm)
    storage = open_storage(storage_url(spec.storage.url), spec.storage.heartbeat_interval, spec.storage.grace_period)
    executor = make_executor(spec, storage).start()  # local workers import meanwhile
    try:  # the fingerprint is the spec's space: a resume is judged on what the user wrote, not on the box
        study, resumed = open_study(spec.study_name, storage, sampler, spec.objective.directions, space_fingerprint(full_space), prepared.fingerprint)
        if resumed:
            log.info("resuming study %s with %d trial(s) recorded", spec.study_name, len(study.trials))
            n_warm = warm_trials_of(study)  # the sampler the study began with: same start-up and random turns
            space = narrowed_space_of(study) or full_space  # the box it began with, not one from today's history
            if space is not full_space:
                log.info("searching the narrowed space the study began with: %s", describe_ranges(narrowed_ranges(full_space, space)))
            choice, study.sampler = sampler_for(spec, space, source_trials, n_warm)
        elif warm is not None:
            enqueue_warm_start(study, warm)
        tracker = make_tracker(spec)
        sampler_tags = {} if resumed else unstated_settings(choice.name, n_warm)  # what the spec does not show
        if sampler_tags:
            tracker.set_tags(parent_run_id, sampler_tags)
        startup_seconds = executor.wait_ready() if hasattr(executor, "wait_ready") else 0.0
        controller = StudyController(
            study,
            space,
            executor,
            tracker,
            parent_run_id,
            make_request_factory(spec, prepared, space),
            spec.objective.metrics,
            n_trials=effective_trials(choice.name, space, spec.search.n_trials),
            timeout=spec.search.timeout,
            progress=progress,
            max_retries=spec.search.max_retries,
        )
        try:
            summary = controller.run()
        except ClusterProblem as problem:
            return _failed_search(tracker, parent_run_id, f"the study stopped early: {problem}", TrialsSummary(), len(study.trials))
        summary.startup_seconds = startup_seconds
    finally:
        executor.close()
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        first = summary.first_error or next(
            (t.user_attrs.get(FAILURE_REASON) for t in study.trials if t.user_attrs.get(FAILURE_REASON)),
            "no trial finished",
        )
        failure = f"all {len(study.trials)} trials failed; first error: {first}"
        if not summary.ran_this_time:  # a re-run after fixing the cause resumes a study whose budget is spent
            failure += " (all recorded by an earlier run: the study's budget is spent, so nothing ran now; --study-name NEW starts afresh)"
        return _failed_search(tracker, parent_run_id, failure, summary, len(study.trials))
    if len(spec.objective.metrics) > 1:
        return _select_from_front(spec, study, tracker, parent_run_id, summary)
    best = best_trial(study)
    return SearchOutcome(best.number, dict(best.params), list(best.values), summary, len(study.trials))


def _select_from_front(spec: TuneSpec, study: Any, tracker: Tracker, parent_run_id: str, summary: TrialsSummary) -> SearchOutcome:
    """Several objectives: log the Pareto front (table + plot) and refit the trial the spec's rule picks."""
    metrics = spec.objective.metrics
    best_trials = {t.number: t for t in study.best_trials}
    front = front_rows(list(best_trials.values()), metrics)
    everything = front_rows([t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"], metrics)
    selection = select(front, metrics, spec.objective.directions, spec.objective.select)
    chosen = selection.row["trial"] if selection.row else None
    tracker.log_table(parent_run_id, front, "pareto_front.json")
    tracker.log_image(parent_run_id, pareto_png(everything, front, metrics, chosen), "pareto_front.png")
    tracker.set_tags(parent_run_id, {PARETO_SIZE_TAG: str(len(front)), SELECTION_TAG: selection.reason})
    log.info("Pareto front: %d trial(s); %s", len(front), selection.reason)
    if selection.row is None:
        return _failed_search(tracker, parent_run_id, selection.reason, summary, len(study.trials))
    trial = best_trials[chosen]
    tracker.set_tags(parent_run_id, {SELECTED_TRIAL_TAG: str(chosen)})
    return SearchOutcome(chosen, dict(trial.params), list(trial.values), summary, len(study.trials))


def _failed_search(tracker: Tracker, parent_run_id: str, failure: str, summary: TrialsSummary, n_trials: int) -> SearchOutcome:
    """No configuration to refit: the parent run ends FAILED with the reason, and the flow fails with it."""
    tracker.set_tags(parent_run_id, {FAILURE_REASON: failure})
    tracker.end_run(parent_run_id, status="FAILED")
    return SearchOutcome(None, {}, [], summary, n_trials, failure=failure)


def refit_and_register(spec: TuneSpec, prepared: PreparedData, search: SearchOutcome, parent_run_id: str) -> dict[str, Any]:
    """Refit on all training rows, score once on the held-out test set, log and register the model; a
    re-run that trained nothing new keeps the model the study already has (kubetune.components.registry.refit_reuse)."""
    tracker = make_tracker(spec)
    params = {**spec.model.params, **search.best_params}
    replayed = {"pbt_replayed_rounds": len(search.schedule)} if search.schedule else {}
    refit_params = {**params, "best_trial_number": search.best_number, **replayed}  # what the refit run records
    registered = spec.tracking.registered_model or spec.study_name
    study_page = run_url(tracker.tracking_uri, tracker.experiment_id, parent_run_id)  # the summary's link, either way
    cv_metrics = {f"cv_{name}": value for name, value in zip(spec.objective.metrics, search.best_values)}
    if search.summary.ran_this_time == 0:
        wanted = WantedRefit(
            params={k: param_value(v) for k, v in refit_params.items()},
            registered_model=registered,
            data_fingerprint=prepared.fingerprint,
            seed=param_value(spec.search.seed),
            n_test=param_value(prepared.n_test),
            metrics=list(spec.objective.metrics),
        )
        reused = find_reusable_refit(tracker.client, parent_run_id, wanted)
        if reused is not None:
            log.debug("study %s: no new trials since refit run %s; keeping %s version %s", spec.study_name, reused.run_id, registered, reused.version)
            tracker.end_run(parent_run_id)
            return _refit_result(spec, search, parent_run_id, registered, reused.run_id, reused.version, cv_metrics, reused.test_metrics,
                                 reused=True, url=study_page)
    outcome = refit_and_evaluate(
        family=spec.model.family,
        params=params,
        task=prepared.facts.task,
        seed=spec.search.seed,
        train_uri=prepared.train_uri,
        test_uri=prepared.test_uri,
        target=spec.data.target,
        drop=spec.data.drop,
        metrics=spec.objective.metrics,
        n_classes=prepared.facts.n_classes,
        positive_class=prepared.facts.positive_class,
        schedule=[step | {"params": {**spec.model.params, **step["params"]}} for step in search.schedule] if search.schedule else None,
    )
    run_id = tracker.start_child_run(parent_run_id, spec.study_name, "refit", role="refit")
    tracker.log_params(run_id, refit_params)
    if search.schedule:  # what the refit trained, round by round: the reproduction recipe for this model
        tracker.log_dict(run_id, {"rounds": search.schedule}, "pbt_schedule.json")
    test_metrics = {f"test_{name}": value for name, value in outcome.test_scores.items()}
    tracker.log_metrics(run_id, {**test_metrics, **cv_metrics})
    info = tracker.log_model(run_id, outcome.model, outcome.input_example, registered)
    tracker.end_run(run_id)
    tracker.log_metrics(parent_run_id, {**test_metrics, **cv_metrics, "best_trial_number": search.best_number})
    tracker.set_tags(parent_run_id, {REFIT_TAG: run_id, REGISTERED_TAG: registered})
    write_record(tracker.client, parent_run_id)  # before the run ends: a finished study always has its record
    tracker.end_run(parent_run_id)
    version = getattr(info, "registered_model_version", None)
    return _refit_result(spec, search, parent_run_id, registered, run_id, version, cv_metrics, test_metrics,
                         reused=False, url=study_page)


def _refit_result(
    spec: TuneSpec, search: SearchOutcome, parent_run_id: str, registered: str, refit_run_id: str, version: Any,
    cv_metrics: dict[str, float], test_metrics: dict[str, float], reused: bool, url: str | None,
) -> dict[str, Any]:
    """What the tune flow returns and the CLI prints."""
    return {
        "run_url": url,
        "study": spec.study_name,
        "best_trial": search.best_number,
        "best_params": search.best_params,
        "cv": cv_metrics,
        "test": test_metrics,
        "refit_run_id": refit_run_id,
        "refit_reused": reused,
        "parent_run_id": parent_run_id,
        "registered_model": registered,
        "model_version": version,
        "trials_this_run": search.summary.ran_this_time,
        "failed_this_run": search.summary.n_failed,
        "pruned_this_run": search.summary.n_pruned,
        "search_seconds": search.summary.wall_seconds,
        "worker_startup_seconds": search.summary.startup_seconds,
    }


def resolved_space(spec: TuneSpec, prepared: PreparedData) -> Space:
    return checked_space(spec, prepared.facts)
