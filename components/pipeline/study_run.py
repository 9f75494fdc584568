"""The job's first steps: prepare the data, resolve the space, open the study's MLflow parent run."""

from __future__ import annotations

import logging

import yaml

from kubetune.components.core import (
    DATA_TAG,
    DATA_WARNINGS_TAG,
    PIPELINE_TAG,
    VERSION_PREFIX,
    redact_mapping,
)
from kubetune.components.data import artifact_root
from kubetune.components.evaluation import scores_a_positive_class
from kubetune.components.execution import storage_url
from kubetune.components.pipeline.data_preparation import (
    PreparedData,
    prepare_data,
    split_row_ids,
    workdir_for,
)
from kubetune.components.pipeline.preflight_checks import checked_space, data_notices
from kubetune.components.search import Space, choose_sampler, to_jsonable
from kubetune.components.spec import TuneSpec
from kubetune.components.tracking import (
    Tracker,
    all_package_versions,
    git_commit,
    package_versions,
    resolve_tracking_uri,
    safe_uri,
)
from kubetune.components.warmstart import META_PREFIX

log = logging.getLogger("kubetune")

MLFLOW_TAG_LIMIT = 5000  # characters MLflow keeps in a tag value


def prepare(spec: TuneSpec) -> PreparedData:
    """Read and check the data, split off the held-out test set, write both parts under the study's workdir."""
    return prepare_data(spec, workdir_for(spec.study_name), artifact_root(spec.artifacts.uri))


def resolved_space(spec: TuneSpec, prepared: PreparedData) -> Space:
    return checked_space(spec, prepared.facts)


def make_tracker(spec: TuneSpec) -> Tracker:
    return Tracker(
        resolve_tracking_uri(spec.tracking.mlflow_uri), spec.tracking.experiment or spec.study_name
    )


def start_study_run(spec: TuneSpec, prepared: PreparedData, space: Space) -> tuple[str, bool]:
    """The parent run: spec, data fingerprint, git commit, seed, sampler choice, package versions."""
    tracker = make_tracker(spec)
    choice = choose_sampler(
        spec.search.sampler, space, spec.search.n_trials, len(spec.objective.metrics)
    )
    versions = package_versions()
    params = {
        "study": spec.study_name,
        "model_family": spec.model.family,
        "metric": ",".join(spec.objective.metrics),
        "direction": ",".join(spec.objective.directions),
        "strategy": spec.search.strategy,
        "sampler": choice.name if spec.search.strategy == "sample" else "pbt",
        "sampler_reason": choice.reason
        if spec.search.strategy == "sample"
        else "population-based training",
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
    # the spec the study last ran with (a resume may add trials): what reproduces it as recorded
    raw_spec = redact_mapping(spec.model_dump(mode="json", exclude_none=True))
    tracker.log_text(run_id, yaml.safe_dump(raw_spec, sort_keys=False), "spec.yaml")
    if not resumed:
        tracker.log_dict(run_id, to_jsonable(space), "search_space.json")
        tracker.log_dict(run_id, all_package_versions(), "environment/packages.json")
        tracker.log_dict(run_id, split_row_ids(prepared), "split/row_ids.json")
        # as params, not metrics: 19 dataset features at the head of the run's metrics pushed its scores
        # off the page and drew a chart each in the MLflow UI; repr keeps every digit for the meta-store
        tracker.log_params(
            run_id,
            {f"{META_PREFIX}{name}": repr(value) for name, value in prepared.meta_features.items()},
        )
        tracker.log_dict(run_id, prepared.meta_features, "meta_features.json")
    log.info("sampler %s: %s", params["sampler"], params["sampler_reason"])
    notices = data_notices(prepared.facts)
    for notice in notices:
        log.warning("%s", notice)
    if notices:  # on the run, where whoever compares studies in the MLflow UI sees it
        tracker.set_tags(run_id, {DATA_WARNINGS_TAG: "\n".join(notices)[:MLFLOW_TAG_LIMIT]})
    scored = [m for m in spec.objective.metrics if scores_a_positive_class(m)]
    chosen = prepared.facts.positive_class
    if (
        scored
        and spec.objective.positive_class is None
        and chosen is not None
        and chosen is not True
        and chosen != 1
    ):
        log.info(
            "%s score%s the class %r, the later label in sort order (objective.positive_class chooses another)",
            ", ".join(scored),
            "s" if len(scored) == 1 else "",
            chosen,
        )
    return run_id, resumed
