"""The steps the ``retrain`` flow adds to a tuning job, as plain functions (``flows/retrain.py`` runs each
as a Prefect task): name the study after the fresh data's version, then challenge the champion."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from kubetune.components.data import fingerprint, read_data, read_frame, row_hashes, write_frame
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
    training_rows,
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
    refit), decide by the margin, move the alias if the challenger wins, and log both scores.

    A data version that contains rows the champion was trained on (a table that grows) would score it
    on some of them: its score would be flattered. Both models are then scored on the held-out rows the
    champion never saw, and the record says how many were left out."""
    tracker = make_tracker(spec)
    model_name = result.registered_model
    challenger = str(result.model_version)
    metric, direction = spec.objective.metrics[0], spec.objective.directions[0]
    holder = champion_version(tracker.client, model_name, alias)
    champion = str(holder.version) if holder is not None else None
    already_champion = champion == challenger  # a re-run that trained nothing new kept its model
    challenger_score = result.test[f"test_{metric}"]
    champion_score, problem, excluded = None, None, 0
    if champion is not None and not already_champion:
        target = evaluation_target(spec, prepared)
        test_uri, excluded = _rows_unseen_by(tracker.client, model_name, champion, prepared)
        if test_uri is None:
            problem = f"it was trained on all {excluded} held-out rows of this data version"
        else:
            scores, problem = score_version(
                tracker.tracking_uri, model_name, champion, test_uri, target
            )
            champion_score = scores[metric] if scores else None
            if excluded and champion_score is not None:
                fair, why = score_version(
                    tracker.tracking_uri, model_name, challenger, test_uri, target
                )
                if fair is None:
                    raise RuntimeError(
                        f"the challenger, version {challenger}, cannot be scored: {why}"
                    )
                challenger_score = fair[metric]
    decision = decide_promotion(
        metric,
        direction,
        challenger_score,
        champion_score,
        margin,
        problem,
        already_champion=already_champion,
    )
    if decision.promote:
        move_alias(tracker.client, model_name, alias, challenger)
    record = promotion_record(decision, model_name, alias, challenger, champion)
    record["test_rows_excluded"] = excluded  # held-out rows the champion was trained on
    # else the decision that gave it the alias stays on record, not overwritten
    if not already_champion:
        record_decision(tracker, result.parent_run_id, decision, record)
    log.info(
        "%s: %s (%s)",
        alias,
        f"version {challenger} promoted" if decision.promote else f"version {champion} kept",
        decision.reason,
    )
    return replace(result, promotion=record)


def _rows_unseen_by(
    client: Any, model_name: str, version: str, prepared: PreparedData
) -> tuple[str | None, int]:
    """The held-out test set without the rows ``version`` was trained on: (its URI, rows left out). The
    whole test set when nothing overlaps or the version records no training rows; (None, n) when every
    held-out row is one it was trained on."""
    trained = training_rows(client, model_name, version)
    if trained is None:
        return prepared.test_uri, 0
    columns, hashes = trained
    test = read_frame(prepared.test_uri)
    if not set(columns) <= set(map(str, test.columns)):
        return prepared.test_uri, 0  # another schema: no row can be one it was trained on
    seen = np.isin(row_hashes(test, columns), hashes)
    if not seen.any():
        return prepared.test_uri, 0
    if seen.all():
        return None, int(seen.sum())
    unseen = write_frame(test[~seen], Path(prepared.workdir) / f"test_unseen_by_v{version}.parquet")
    log.info(
        "%d held-out row(s) were in version %s's training data: both are scored without them",
        seen.sum(),
        version,
    )
    return str(unseen), int(seen.sum())
