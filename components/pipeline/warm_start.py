"""The warm start as a job step: read past studies from the MLflow store, plan (kubetune.components.
warmstart), record the plan on the parent run and on the study, so that a resumed study searches as
its first run did."""

from __future__ import annotations

import logging
from typing import Any

from kubetune.components.core import (
    NARROWED_SPACE_ATTR,
    WARM_KIND,
    WARM_MODE_TAG,
    WARM_N_CONFIGS_TAG,
    WARM_NARROWED_TAG,
    WARM_SOURCE_RUN,
    WARM_SOURCE_STUDY,
    WARM_TRIALS_ATTR,
    WARM_USED_TAG,
    error_reason,
)
from kubetune.components.pipeline.data_preparation import PreparedData
from kubetune.components.pipeline.study_run import make_tracker
from kubetune.components.search import Space, to_jsonable
from kubetune.components.spec import ParamSpec, TuneSpec
from kubetune.components.tracking import Tracker
from kubetune.components.warmstart import (
    CurrentStudy,
    PastStudy,
    WarmConfig,
    WarmStartPlan,
    describe_ranges,
    plan_warm_start,
    read_history,
)

log = logging.getLogger("kubetune")


def warm_start_plan(
    spec: TuneSpec, prepared: PreparedData, space: Space, parent_run_id: str, resumed: bool
) -> WarmStartPlan:
    """Past configurations to run first, read from the MLflow store; logged to the parent run as tags
    and ``warm_start.json``. A resumed study already has its first trials."""
    settings = spec.warm_start
    if resumed:
        return WarmStartPlan(
            settings.mode,
            "resumed",
            message="study resumed; its warm start was planned when it began",
        )
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
    tracker.set_tags(
        parent_run_id,
        {
            WARM_MODE_TAG: plan.mode,
            WARM_USED_TAG: plan.used,
            WARM_N_CONFIGS_TAG: str(len(plan.configs)),
        },
    )
    tracker.log_dict(parent_run_id, plan.as_json(), "warm_start.json")
    # beside search_space.json: the space the trials are actually drawn from
    if plan.narrowed is not None:
        tracker.log_dict(parent_run_id, to_jsonable(plan.narrowed), "search_space_narrowed.json")
        tracker.set_tags(parent_run_id, {WARM_NARROWED_TAG: describe_ranges(plan.box)})
    return plan


def _read_history_or_nothing(tracker: Tracker) -> list[PastStudy]:
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
    return (
        None
        if raw is None
        else {name: ParamSpec.model_validate(param) for name, param in raw.items()}
    )


def warm_trials_of(study: Any) -> int:
    """How many warm-start trials ``study`` began with (0 for a cold one)."""
    return int(study.user_attrs.get(WARM_TRIALS_ATTR, 0))


def warm_provenance(config: WarmConfig) -> dict[str, str]:
    """The user attrs (MLflow tags on the trial's run) naming the past run a warm-start trial came from."""
    return {
        WARM_SOURCE_RUN: config.source_run_id,
        WARM_SOURCE_STUDY: config.source_study,
        WARM_KIND: config.kind,
    }


def warm_start_limit(spec: TuneSpec) -> int:
    """Warm-start configurations at most: ``warm_start.max_trials``, else half the first trials (up to
    10) -- a study keeps room for its sampler, a PBT population for its random members."""
    first = spec.search.pbt.population if spec.search.strategy == "pbt" else spec.search.n_trials
    return min(spec.warm_start.max_trials or min(10, max(1, first // 2)), first)
