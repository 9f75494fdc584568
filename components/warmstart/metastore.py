"""The meta-store: past studies read back from the MLflow tracking store, cached locally.

No separate database: every finished study's parent run already holds its meta-features (``meta.*``
params; metrics for studies recorded before), model family, task, objective and pipeline tag, and its child runs hold each trial's
parameters and score. One query lists the finished parent runs of every experiment; a study not yet in
the local cache costs one more read for its best trials: the record artifact the study wrote on its
parent run as it ended (``write_record``), or, for a study without one, a query of its trial runs
(whose answer becomes the study's record then, so the query is made once). A cached entry is
read again when its run's end time has moved -- a study resumed under the same name (more trials, a
crashed retrain run again) reuses its parent run and ends it again with a new record -- and runs
deleted from MLflow drop out of the cache because the listing no longer returns them.

Why the record and the concurrent reads: a controller pod in Kubernetes starts with an empty cache, so
every job reads the whole history, and a trial-run query per study, one after another, made a job wait
about a quarter of a second per past study before its first trial (bench/metastore.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubetune.components.core import (
    META_STORE_RECORD_TAG,
    PIPELINE_TAG,
    ROLE_TAG,
    TRIAL_STATE_TAG,
    error_reason,
    redact_url,
    replaced_atomically,
)
from kubetune.components.tracking import PARENT_TAG
from kubetune.components.warmstart.planner import PastConfig, PastStudy

log = logging.getLogger("kubetune.metastore")

META_PREFIX = "meta."
CACHED_CONFIGS = 200  # best trials kept per past study: the warm start estimates scores from them
CACHE_VERSION = 2  # 2: up to 200 trials per study (was 10)
# on a study's parent run: its best trials, written as it ends
RECORD_ARTIFACT = "meta_store_record.json"
RECORD_VERSION = 1
READERS = 8  # studies read at once (records or queries): enough to hide round trips, few enough to spare the server


def cache_path(tracking_uri: str, root: Path | None = None) -> Path:
    """One cache file per tracking store (keyed by its credential-free URI)."""
    root = root or Path(os.environ.get("KUBETUNE_CACHE_DIR", ".kubetune/cache"))
    digest = hashlib.sha256(redact_url(tracking_uri).encode()).hexdigest()[:16]
    return root / f"metastore-{digest}.json"


def read_history(
    client: Any,
    tracking_uri: str,
    cache_root: Path | None = None,
    threads: int = READERS,
    use_records: bool = True,
) -> list[PastStudy]:
    """Every finished study in the tracking store, newest first. ``use_records=False`` ignores the
    studies' record artifacts and queries their trial runs (what bench/metastore.py compares with)."""
    path = cache_path(tracking_uri, cache_root)
    cached = _load_cache(path)
    listed = _finished_study_runs(client)
    cache = {
        run.info.run_id: cached[run.info.run_id]
        for run in listed
        if _is_current(cached.get(run.info.run_id), run)
    }
    # a listed run without a model family or metric (a study from another tool, a hand-made run) is
    # skipped from its listed params: no read, and no cache rewrite by every warm start for it
    missing = [
        run
        for run in listed
        if run.info.run_id not in cache and _objective(run.data.params) is not None
    ]
    if missing:
        # MLflow draws a progress bar per download: a line per past study in a controller pod's log
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(missing)))) as pool:
            records = list(
                pool.map(lambda run: _record(client, tracking_uri, run, use_records), missing)
            )
        cache.update(
            {run.info.run_id: record for run, record in zip(missing, records) if record is not None}
        )
    if missing or cache.keys() != cached.keys():  # read anew, or deleted runs to forget
        _save_cache(path, cache)
    studies = [cache[run.info.run_id] for run in listed if run.info.run_id in cache]
    log.debug(
        "meta-store: %d past studies (%d read from MLflow, the rest cached)",
        len(studies),
        len(missing),
    )
    return sorted(studies, key=lambda s: -s.end_time)


def _end_time(run: Any) -> int:
    return int(run.info.end_time or run.info.start_time or 0)


def _is_current(entry: PastStudy | None, run: Any) -> bool:
    """A cached study still describes its run: the run has not ended again since (a resume)."""
    return entry is not None and entry.end_time == _end_time(run)


def _finished_study_runs(client: Any) -> list[Any]:
    from mlflow.entities import ViewType

    experiment_ids = [
        e.experiment_id
        for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=50_000)
    ]
    if not experiment_ids:
        return []
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            experiment_ids,
            filter_string=f"tags.`{ROLE_TAG}` = 'study' AND attributes.status = 'FINISHED'",
            max_results=1000,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _record(client: Any, tracking_uri: str, run: Any, use_records: bool = True) -> PastStudy | None:
    """A past study as the warm start sees it; None when the run lacks what a warm start needs. The
    profile comes from the listed parent run itself; the best trials from the study's record artifact
    when it wrote one, else (older studies, an unreadable artifact) from a query of its trial runs."""
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    objective = _objective(params)
    if objective is None:
        return None
    metric, direction = objective
    configs = (
        _configs_from_record(tracking_uri, run)
        if use_records and META_STORE_RECORD_TAG in tags
        else None
    )
    if configs is None:
        configs = best_configs(client, run, metric, direction)
        # a study from before records: the next reader gets one
        if use_records and META_STORE_RECORD_TAG not in tags:
            _backfill(client, run.info.run_id, metric, configs)
    return PastStudy(
        run_id=run.info.run_id,
        study=params.get("study", run.info.run_name or run.info.run_id),
        pipeline=tags.get(PIPELINE_TAG, ""),
        family=params["model_family"],
        task=params.get("task", ""),
        metric=metric,
        direction=direction,
        end_time=_end_time(run),
        meta=meta_features_of(params, metrics),
        configs=configs,
    )


def meta_features_of(params: dict[str, str], metrics: dict[str, float]) -> dict[str, float]:
    """A study's meta-features: params ``meta.*`` (where studies keep them now), or metrics ``meta.*``
    (studies recorded before), so that a store's whole history stays usable."""
    source: dict[str, Any] = params if any(k.startswith(META_PREFIX) for k in params) else metrics
    meta = {}
    for key, value in source.items():
        if key.startswith(META_PREFIX):
            try:
                meta[key.removeprefix(META_PREFIX)] = float(value)
            except ValueError:  # a param someone else named meta.*: not a feature
                continue
    return meta


def _objective(params: dict[str, str]) -> tuple[str, str] | None:
    """The study's first metric and its direction, from its parent run's params; None for a run that is
    not a study a warm start can use (no model family or metric)."""
    if "model_family" not in params or "metric" not in params:
        return None
    return params["metric"].split(",")[0], params.get("direction", "maximize").split(",")[0]


def best_configs(client: Any, run: Any, metric: str, direction: str) -> list[PastConfig]:
    """The study's best COMPLETE trials, best first, read from their MLflow runs."""
    order = "DESC" if direction == "maximize" else "ASC"
    trials = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.`{PARENT_TAG}` = '{run.info.run_id}' AND tags.`{TRIAL_STATE_TAG}` = 'COMPLETE'",
        order_by=[f"metrics.`{metric}` {order}"],
        max_results=CACHED_CONFIGS,
    )
    return [
        PastConfig(dict(t.data.params), float(t.data.metrics[metric]), t.info.run_id)
        for t in trials
        if metric in t.data.metrics
    ]


def write_record(client: Any, parent_run_id: str) -> bool:
    """Before a study's parent run ends: its best trials as one small artifact, so that later warm starts
    read one small file per study instead of a query whose answer carries every trial run's params,
    metrics and tags (6.7 times as long at the same concurrency, bench/metastore.py). Best effort:
    without the record a later read queries."""
    try:
        run = client.get_run(parent_run_id)
        objective = _objective(run.data.params)
        if objective is None:
            return False
        metric, direction = objective
        _store_record(client, parent_run_id, metric, best_configs(client, run, metric, direction))
        return True
    except Exception as error:  # noqa: BLE001 - the study is done; a missing record only slows later reads
        log.warning(
            "meta-store: no record written for run %s (%s); later warm starts query its trials",
            parent_run_id,
            error_reason(error),
        )
        return False


def _store_record(client: Any, run_id: str, metric: str, configs: list[PastConfig]) -> None:
    client.log_text(
        run_id,
        json.dumps(
            {"version": RECORD_VERSION, "metric": metric, "configs": [c.__dict__ for c in configs]}
        ),
        RECORD_ARTIFACT,
    )
    # after the file: the tag never promises a missing record
    client.set_tag(run_id, META_STORE_RECORD_TAG, RECORD_ARTIFACT)


def _backfill(client: Any, run_id: str, metric: str, configs: list[PastConfig]) -> None:
    """The record an older study lacks, written by the first reader that had to query it, so that a store's
    history written before records existed is queried once, not by every job. Best effort and quiet: a
    reader without write access to MLflow reads by queries, as before."""
    try:
        _store_record(client, run_id, metric, configs)
    except Exception as error:  # noqa: BLE001 - reading the history must not depend on writing it
        log.debug(
            "meta-store: no record written for older run %s (%s)", run_id, error_reason(error)
        )


def _configs_from_record(tracking_uri: str, run: Any) -> list[PastConfig] | None:
    import tempfile

    from mlflow.artifacts import download_artifacts

    try:
        with tempfile.TemporaryDirectory() as folder:
            path = download_artifacts(
                artifact_uri=f"{run.info.artifact_uri}/{RECORD_ARTIFACT}",
                dst_path=folder,
                tracking_uri=tracking_uri,
            )
            raw = json.loads(Path(path).read_text())
        if raw.get("version") != RECORD_VERSION:
            return None
        return [PastConfig(**c) for c in raw["configs"]]
    except Exception as error:  # noqa: BLE001 - an unreadable record costs a query, not the warm start
        log.debug(
            "meta-store: record of run %s unreadable (%s); querying its trials",
            run.info.run_id,
            error_reason(error),
        )
        return None


def _load_cache(path: Path) -> dict[str, PastStudy]:
    try:
        raw = json.loads(path.read_text())
        if raw.get("version") != CACHE_VERSION:
            return {}
        return {run_id: PastStudy.from_json(entry) for run_id, entry in raw["studies"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # no cache, or one from another version: rebuilt from MLflow


def _save_cache(path: Path, cache: dict[str, PastStudy]) -> None:
    """Best effort: a cache folder that cannot be written (a read-only root file system, a full disk)
    costs the next job a read from MLflow, never this job the history it has just read."""
    try:
        # atomic: a concurrent reader sees the old or the new file, never half of one
        with replaced_atomically(path) as partial:
            partial.write_text(
                json.dumps(
                    {
                        "version": CACHE_VERSION,
                        "studies": {k: v.to_json() for k, v in cache.items()},
                    }
                )
            )
    except OSError as error:
        log.warning(
            "meta-store: cache %s not written (%s); the next warm start reads MLflow again",
            path,
            error.strerror or error,
        )
