"""The steps the ``retrain`` flow adds to a tuning job, as plain functions (``flows/retrain.py`` runs each
as a Prefect task): name the study after the fresh data's version, then challenge the champion."""

from __future__ import annotations

import logging
from dataclasses import replace

from kubetune.components.data import fingerprint, read_data
from kubetune.components.pipeline.data_preparation import PreparedData
from kubetune.components.pipeline.refit_step import RefitSummary, evaluation_target
from kubetune.components.pipeline.study_run import make_tracker
from kubetune.components.registry import (
    champion_version,
    decide_promotion,
    move_alias,
    promotion_record,
    record_decision,
    retrain_study_name,
    score_version,
)
from kubetune.components.spec import TuneSpec

log = logging.getLogger("kubetune")


def versioned_spec(spec: TuneSpec, digest: str | None = None) -> TuneSpec:
    """The spec for this data version: its own study (same data -> same study, so a crashed retrain
    resumes), the registered model named after the pipeline's base study, so every version lands
    under one registry entry whose alias the challenge moves. The same base study is also what makes
    a version the same pipeline for the warm start: a schedule that points each run at a new path
    (``s3://bucket/churn/2026-12-01.csv``) would otherwise count as a new pipeline every time and
    start from similar datasets instead of the previous version's best configurations.
    ``digest``: the data's fingerprint when the caller has read it already."""
    digest = digest or fingerprint(read_data(spec.data))
    base = spec.study_name
    tracking = spec.tracking.model_copy(
        update={
            "registered_model": spec.tracking.registered_model or base,
            "experiment": spec.tracking.experiment or base,
        }
    )
    warm_start = spec.warm_start.model_copy(
        update={"pipeline": spec.warm_start.pipeline or spec.pipeline_of(f"retrain:{base}")}
    )
    return spec.model_copy(
        update={
            "study": retrain_study_name(base, digest),
            "tracking": tracking,
            "warm_start": warm_start,
        }
    )


def challenge_champion(
    spec: TuneSpec, prepared: PreparedData, result: RefitSummary, margin: float, alias: str
) -> RefitSummary:
    """Score the alias holder on this run's held-out test set (the challenger was scored there by the
    refit), decide by the margin, move the alias if the challenger wins, and log both scores."""
    tracker = make_tracker(spec)
    model_name = result.registered_model
    challenger = str(result.model_version)
    metric, direction = spec.objective.metrics[0], spec.objective.directions[0]
    holder = champion_version(tracker.client, model_name, alias)
    champion = str(holder.version) if holder is not None else None
    already_champion = champion == challenger  # a re-run that trained nothing new kept its model
    champion_score, problem = None, None
    if champion is not None and not already_champion:
        scores, problem = score_version(
            tracker.tracking_uri,
            model_name,
            champion,
            prepared.test_uri,
            evaluation_target(spec, prepared),
        )
        champion_score = scores[metric] if scores else None
    decision = decide_promotion(
        metric,
        direction,
        result.test[f"test_{metric}"],
        champion_score,
        margin,
        problem,
        already_champion=already_champion,
    )
    if decision.promote:
        move_alias(tracker.client, model_name, alias, challenger)
    record = promotion_record(decision, model_name, alias, challenger, champion)
    if (
        not already_champion
    ):  # else the decision that gave it the alias stays on record, not overwritten
        record_decision(tracker, result.parent_run_id, decision, record)
    log.info(
        "%s: %s (%s)",
        alias,
        f"version {challenger} promoted" if decision.promote else f"version {champion} kept",
        decision.reason,
    )
    return replace(result, promotion=record)
