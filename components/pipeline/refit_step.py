"""Refit the chosen configuration on every training row, score it once on the held-out test set, log and
register the model; a re-run that trained nothing new keeps the model the study already has."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import optuna

from kubetune.components.core import (
    ANALYSIS_SUMMARY_TAG,
    DATA_TAG,
    REFIT_TAG,
    REGISTERED_TAG,
    TRAINING_ROWS_ARTIFACT,
    EvaluationTarget,
)
from kubetune.components.evaluation import refit_and_evaluate
from kubetune.components.execution import Executor, open_storage, storage_url, study_lock
from kubetune.components.pipeline.analysis_step import (
    FinalistsOutcome,
    analyse_finalists,
    analysis_applies,
    compare_on_held_out,
)
from kubetune.components.pipeline.data_preparation import PreparedData
from kubetune.components.pipeline.search_strategy import SearchOutcome
from kubetune.components.pipeline.study_run import make_tracker
from kubetune.components.registry import WantedRefit, find_reusable_refit, settle_interrupted_refits
from kubetune.components.spec import TuneSpec
from kubetune.components.tracking import Tracker, param_value, run_url
from kubetune.components.warmstart import write_record

log = logging.getLogger("kubetune")


@dataclass(frozen=True)
class RefitSummary:
    """What a tuning job ends with: the tune flow returns it and the CLI prints it."""

    study: str
    run_url: str | None  # the study's parent run in the MLflow UI
    parent_run_id: str
    best_trial: int | None
    best_params: dict[str, Any]
    cv: dict[str, float]  # cv_<metric>: the chosen trial's cross-validated scores
    test: dict[str, float]  # test_<metric>: the refit model's scores on the held-out test set
    refit_run_id: str
    refit_reused: bool  # nothing new ran: the study's earlier refit (and model version) stands
    registered_model: str
    model_version: str | None
    trials_this_run: int
    failed_this_run: int
    pruned_this_run: int
    search_seconds: float
    worker_startup_seconds: float
    promotion: dict[str, Any] | None = None  # retraining: the champion/challenger decision
    # the analysis stage, in words: held-out scores with intervals beside the defaults', significance
    analysis: tuple[str, ...] = ()
    # the search's own best trial, when the analysis chose another finalist to refit
    search_best_trial: int | None = None


def evaluation_target(spec: TuneSpec, prepared: PreparedData) -> EvaluationTarget:
    return EvaluationTarget(
        column=spec.data.target,
        drop=tuple(spec.data.drop),
        metrics=tuple(spec.objective.metrics),
        n_classes=prepared.facts.n_classes,
        positive_class=prepared.facts.positive_class,
    )


def refit_and_register(
    spec: TuneSpec,
    prepared: PreparedData,
    search: SearchOutcome,
    parent_run_id: str,
    workers: Executor | None = None,
) -> RefitSummary:
    """The analysis stage (on ``workers`` where the job has them), the refit of its choice, the
    held-out score, the model logged and registered."""
    tracker = make_tracker(spec)
    basis = selection_basis(spec, search)
    params, refit_params = refit_params_of(spec, search, basis)
    registered = spec.tracking.registered_model or spec.study_name
    # the summary's link, either way
    study_page = run_url(tracker.tracking_uri, tracker.experiment_id, parent_run_id)
    cv_metrics = cv_of(spec, search)

    def summary(
        refit_run_id: str,
        version: Any,
        test_metrics: dict[str, float],
        reused: bool,
        chosen: SearchOutcome = search,
        analysis: tuple[str, ...] = (),
    ) -> RefitSummary:
        return RefitSummary(
            study=spec.study_name,
            run_url=study_page,
            parent_run_id=parent_run_id,
            best_trial=chosen.best_number,
            best_params=chosen.best_params,
            cv=cv_of(spec, chosen),
            test=test_metrics,
            refit_run_id=refit_run_id,
            refit_reused=reused,
            registered_model=registered,
            model_version=None if version is None else str(version),
            trials_this_run=search.summary.ran_this_time,
            failed_this_run=search.summary.n_failed,
            pruned_this_run=search.summary.n_pruned,
            search_seconds=search.summary.wall_seconds,
            worker_startup_seconds=search.summary.startup_seconds,
            analysis=analysis,
            search_best_trial=search.best_number,
        )

    wanted = WantedRefit(
        selection_basis=basis,
        params={k: param_value(v) for k, v in refit_params.items()},
        registered_model=registered,
        data_fingerprint=prepared.fingerprint,
        seed=param_value(spec.search.seed),
        n_test=param_value(prepared.n_test),
        metrics=list(spec.objective.metrics),
    )
    # one refit per study at a time: a second controller waits, then finds this refit and reuses it
    with refit_lock(spec):
        for note in settle_interrupted_refits(
            tracker.client, tracker.experiment_id, spec.study_name, registered
        ):
            log.warning("study %s: %s", spec.study_name, note)
        reused = find_reusable_refit(tracker.client, tracker.experiment_id, spec.study_name, wanted)
        if reused is not None:
            log.debug(
                "study %s: keeping refit run %s and %s version %s",
                spec.study_name,
                reused.run_id,
                registered,
                reused.version,
            )
            tracker.log_metrics(parent_run_id, {**reused.test_metrics, **cv_metrics})
            tracker.set_tags(parent_run_id, {REFIT_TAG: reused.run_id, REGISTERED_TAG: registered})
            tracker.end_run(parent_run_id)
            return summary(reused.run_id, reused.version, reused.test_metrics, reused=True)
        # the finalists re-scored on repeated CV; their rule may choose another trial than the search's best
        finalists = analyse_finalists(spec, prepared, search, tracker, parent_run_id, workers)
        chosen = chosen_configuration(search, finalists)
        params, refit_params = refit_params_of(spec, chosen, basis)
        run_id, version, test_metrics, lines = _refit(
            spec,
            tracker,
            prepared,
            chosen,
            parent_run_id,
            params,
            refit_params,
            cv_of(spec, chosen),
            registered,
            finalists,
        )
        return summary(run_id, version, test_metrics, False, chosen, lines)


def refit_params_of(
    spec: TuneSpec, chosen: SearchOutcome, basis: dict[str, str] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The configuration to refit, and what the refit run records: it, its trial, the rounds a
    population replays, and what the analysis's choice stood on."""
    params = {**spec.model.params, **chosen.best_params}
    replayed = {"pbt_replayed_rounds": len(chosen.schedule)} if chosen.schedule else {}
    return params, {
        **params,
        "best_trial_number": chosen.best_number,
        **replayed,
        **(basis or {}),
    }


def selection_basis(spec: TuneSpec, search: SearchOutcome) -> dict[str, str] | None:
    """What the analysis stage's choice depends on, recorded with the refit so that a re-run that ran
    no trial can tell, before running any finalist, that it would choose the same again."""
    if not analysis_applies(spec, search):
        return None
    settings = spec.analysis
    return {
        "search_best_trial_number": str(search.best_number),
        "trials_in_study": str(search.n_trials_total),
        "analysis": f"finalists={settings.finalists},repeats={settings.repeats},"
        f"select={settings.select},baseline={settings.baseline}",
    }


def cv_of(spec: TuneSpec, search: SearchOutcome) -> dict[str, float]:
    """cv_<metric>: the chosen trial's cross-validated scores, as the search measured them."""
    return {f"cv_{name}": value for name, value in zip(spec.objective.metrics, search.best_values)}


def chosen_configuration(
    search: SearchOutcome, finalists: FinalistsOutcome | None
) -> SearchOutcome:
    """The search's best trial, or the finalist the analysis rule chose instead."""
    if finalists is None or finalists.selection is None:
        return search
    winner = finalists.selection.winner.finalist
    if winner.trial_number is None or winner.trial_number == search.best_number:
        return search
    return dataclasses.replace(
        search,
        best_number=winner.trial_number,
        best_params=dict(winner.params),
        best_values=[winner.search_score if winner.search_score is not None else float("nan")],
    )


@contextlib.contextmanager
def refit_lock(spec: TuneSpec) -> Iterator[None]:
    url = storage_url(spec.storage.url)
    study = optuna.load_study(study_name=spec.study_name, storage=open_storage(url))
    with study_lock(study, url, "refit"):
        yield


def _refit(
    spec: TuneSpec,
    tracker: Tracker,
    prepared: PreparedData,
    search: SearchOutcome,
    parent_run_id: str,
    params: dict[str, Any],
    refit_params: dict[str, Any],
    cv_metrics: dict[str, float],
    registered: str,
    finalists: FinalistsOutcome | None = None,
) -> tuple[str, str | None, dict[str, float], tuple[str, ...]]:
    """Refit, score once on the held-out set, log and register; returns (run id, version, test scores,
    the analysis's summary lines)."""
    target = evaluation_target(spec, prepared)
    outcome = refit_and_evaluate(
        family=spec.model.family,
        params=params,
        task=prepared.facts.task,
        seed=spec.search.seed,
        train_uri=prepared.train_uri,
        test_uri=prepared.test_uri,
        target=target,
        schedule=[
            step | {"params": {**spec.model.params, **step["params"]}} for step in search.schedule
        ]
        if search.schedule
        else None,
    )
    run_id = tracker.start_child_run(parent_run_id, spec.study_name, "refit", role="refit")
    tracker.log_params(run_id, refit_params)
    tracker.log_dict(run_id, outcome.training_rows, TRAINING_ROWS_ARTIFACT)
    if search.schedule:  # what the refit trained, round by round: the recipe that reproduces it
        tracker.log_dict(run_id, {"rounds": search.schedule}, "pbt_schedule.json")
    test_metrics = {f"test_{name}": value for name, value in outcome.test_scores.items()}
    held_out = compare_on_held_out(spec, prepared, outcome.model, target)
    interval_metrics = held_out.metrics() if held_out else {}
    lines = tuple(
        line
        for line in [
            held_out.line() if held_out else None,
            *(finalists.sentences if finalists else []),
        ]
        if line
    )
    tracker.log_metrics(
        run_id,
        {**test_metrics, **cv_metrics}
        | {k: v for k, v in interval_metrics.items() if k.startswith("test_")},
    )
    info = tracker.log_model(run_id, outcome.model, outcome.input_example, registered)
    tracker.end_run(run_id)
    best = {} if search.best_number is None else {"best_trial_number": float(search.best_number)}
    tracker.log_metrics(parent_run_id, {**test_metrics, **cv_metrics, **best, **interval_metrics})
    tracker.set_tags(parent_run_id, {REFIT_TAG: run_id, REGISTERED_TAG: registered})
    if lines:
        tracker.set_tags(parent_run_id, {ANALYSIS_SUMMARY_TAG: "\n".join(lines)})
    # before the run ends: a finished study has its record
    write_record(tracker.client, parent_run_id)
    tracker.end_run(parent_run_id)
    version = getattr(info, "registered_model_version", None)
    if search.best_number is not None:
        best_run = tracker.find_trial_run(spec.study_name, search.best_number)
        if best_run is not None:
            tracker.mark_best_trial(parent_run_id, best_run)
    if version is not None:
        tracker.describe_model_version(
            registered,
            str(version),
            version_description(spec, search, params, cv_metrics, test_metrics, parent_run_id),
            study=spec.study_name,
            refit_run_id=run_id,
            scores={**test_metrics, **cv_metrics},
            tags={DATA_TAG: prepared.fingerprint},
        )
    tracker.describe_run(
        parent_run_id,
        study_description(spec, search, params, cv_metrics, lines, registered, version, run_id),
    )
    return run_id, None if version is None else str(version), test_metrics, lines


def study_description(
    spec: TuneSpec,
    search: SearchOutcome,
    params: dict[str, Any],
    cv_metrics: dict[str, float],
    lines: tuple[str, ...],
    registered: str,
    version: Any,
    refit_run_id: str,
) -> str:
    """The study run's description in the MLflow UI (Markdown): what was chosen, how well it does with
    its uncertainty, whether it beats the alternatives, and where the model and the report are."""
    chosen = ", ".join(f"`{k}={param_value(v)}`" for k, v in params.items()) or "the defaults"
    trial = "" if search.best_number is None else f" (trial #{search.best_number})"
    cv = ", ".join(f"{k} {v:.4f}" for k, v in cv_metrics.items())
    parts = [
        f"**{spec.model.family}**, {search.summary.ran_this_time} trials this run. "
        f"Chosen configuration{trial}: {chosen}. Search CV: {cv}.",
        *[f"- {line}" for line in lines],
        f"Model: `{registered}` version {version if version is not None else '(not registered)'}, "
        f"refit run `{refit_run_id}`. Report: `report.html` in this run's artifacts "
        "(finalists, significance, importances, plots).",
    ]
    return "\n\n".join(parts[:1]) + "\n\n" + "\n".join(parts[1:-1]) + "\n\n" + parts[-1]


def version_description(
    spec: TuneSpec,
    search: SearchOutcome,
    params: dict[str, Any],
    cv_metrics: dict[str, float],
    test_metrics: dict[str, float],
    parent_run_id: str,
) -> str:
    """The registry page's summary of a version (Markdown): what it is, how it scored, where it came from."""
    scores = ", ".join(f"{k} {v:.4f}" for k, v in {**test_metrics, **cv_metrics}.items())
    chosen = ", ".join(f"{k}={param_value(v)}" for k, v in params.items())
    trial = "" if search.best_number is None else f" (trial #{search.best_number})"
    return (
        f"**{spec.model.family}** tuned by kubetune study `{spec.study_name}`, refitted on every "
        f"training row with the best configuration{trial}: {chosen}.\n\n"
        f"Scores: {scores} (test: the held-out rows, scored once; cv: the trial's cross-validation).\n\n"
        f"Study run: `{parent_run_id}`."
    )
