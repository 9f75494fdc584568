"""The meta-store: past studies read back from the MLflow tracking store, cached locally.

No separate database: every finished study's parent run already holds its meta-features (``meta.*``
metrics), model family, task, objective and pipeline tag, and its child runs hold each trial's
parameters and score. One query lists the finished parent runs of every experiment; only studies not yet
in the local cache cost a second query (their best trial runs). A finished run does not change, so a
cached entry never goes stale; runs deleted from MLflow drop out because the listing no longer returns
them. Those per-study queries run concurrently: a controller pod in Kubernetes starts with an empty
cache, so it reads the whole history, and one query after another would make a job wait seconds per
hundred past studies (bench/metastore.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from components.redact import redact_url
from components.tracking import PARENT_TAG, ROLE_TAG, STATE_TAG
from components.warmstart import PastConfig, PastStudy

log = logging.getLogger("kubetune.metastore")

PIPELINE_TAG = "kubetune.pipeline"
META_PREFIX = "meta."
CACHED_CONFIGS = 200  # best trials kept per past study: the warm start estimates scores from them
CACHE_VERSION = 2  # 2: up to 200 trials per study (was 10)
READERS = 8  # concurrent per-study queries: enough to hide round trips, few enough to spare the server


def cache_path(tracking_uri: str, root: Path | None = None) -> Path:
    """One cache file per tracking store (keyed by its credential-free URI)."""
    root = root or Path(os.environ.get("KUBETUNE_CACHE_DIR", ".kubetune/cache"))
    digest = hashlib.sha256(redact_url(tracking_uri).encode()).hexdigest()[:16]
    return root / f"metastore-{digest}.json"


def read_history(client: Any, tracking_uri: str, cache_root: Path | None = None, threads: int = READERS) -> list[PastStudy]:
    """Every finished study in the tracking store, newest first."""
    path = cache_path(tracking_uri, cache_root)
    cache = _load_cache(path)
    listed = _finished_study_runs(client)
    missing = [run for run in listed if run.info.run_id not in cache]
    if missing:
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(missing)))) as pool:
            records = list(pool.map(lambda run: _record(client, run), missing))
        cache.update({run.info.run_id: record for run, record in zip(missing, records) if record is not None})
        _save_cache(path, cache)
    studies = [cache[run.info.run_id] for run in listed if run.info.run_id in cache]
    log.debug("meta-store: %d past studies (%d read from MLflow, the rest cached)", len(studies), len(missing))
    return sorted(studies, key=lambda s: -s.end_time)


def _finished_study_runs(client: Any) -> list[Any]:
    from mlflow.entities import ViewType

    experiment_ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=50_000)]
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


def _record(client: Any, run: Any) -> PastStudy | None:
    """A past study as the warm start sees it; None when the run lacks what a warm start needs."""
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    if "model_family" not in params or "metric" not in params:
        return None
    metric = params["metric"].split(",")[0]
    direction = params.get("direction", "maximize").split(",")[0]
    order = "DESC" if direction == "maximize" else "ASC"
    trials = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.`{PARENT_TAG}` = '{run.info.run_id}' AND tags.`{STATE_TAG}` = 'COMPLETE'",
        order_by=[f"metrics.`{metric}` {order}"],
        max_results=CACHED_CONFIGS,
    )
    configs = [
        PastConfig(dict(t.data.params), float(t.data.metrics[metric]), t.info.run_id) for t in trials if metric in t.data.metrics
    ]
    return PastStudy(
        run_id=run.info.run_id,
        study=params.get("study", run.info.run_name or run.info.run_id),
        pipeline=tags.get(PIPELINE_TAG, ""),
        family=params["model_family"],
        task=params.get("task", ""),
        metric=metric,
        direction=direction,
        end_time=int(run.info.end_time or run.info.start_time or 0),
        meta={k.removeprefix(META_PREFIX): float(v) for k, v in metrics.items() if k.startswith(META_PREFIX)},
        configs=configs,
    )


def _load_cache(path: Path) -> dict[str, PastStudy]:
    try:
        raw = json.loads(path.read_text())
        if raw.get("version") != CACHE_VERSION:
            return {}
        return {run_id: PastStudy.from_json(entry) for run_id, entry in raw["studies"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # no cache, or one from another version: rebuilt from MLflow


def _save_cache(path: Path, cache: dict[str, PastStudy]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"version": CACHE_VERSION, "studies": {k: v.to_json() for k, v in cache.items()}}))
    tmp.replace(path)  # atomic: a concurrent reader sees the old or the new file, never half of one
