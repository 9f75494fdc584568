"""The meta-store read from a real ``mlflow server`` (PostgreSQL backend store), with studies written by the
product's own Tracker: what a warm start sees is every finished study with its best trials, whether the
per-study queries run one after another or concurrently, and whether they come from MLflow or the cache."""

from __future__ import annotations

import json
import time
import uuid

from kubetune.components.core import META_STORE_RECORD_TAG, TrialResult
from kubetune.components.tracking import Tracker
from kubetune.components.warmstart.metastore import (
    RECORD_ARTIFACT,
    cache_path,
    read_history,
    write_record,
)


def write_study(
    tracker: Tracker,
    study: str,
    scores: list[float | None],
    *,
    finish: bool = True,
    record: bool = True,
) -> tuple[str, list[str]]:
    """A study as kubetune records it: the parent run with its spec params and meta-features, a child run
    per trial (None: a failed trial), and, as it ends, its record artifact (``record=False``: a study
    written before kubetune wrote records)."""
    parent, _ = tracker.start_study_run(
        study,
        {
            "study": study,
            "model_family": "knn",
            "metric": "accuracy",
            "direction": "maximize",
            "task": "classification",
        },
        {"kubetune.pipeline": f"pipe-{study}"},
    )
    tracker.log_metrics(parent, {"meta.n_rows": 100.0 + len(study), "meta.class_entropy": 0.9})
    run_ids = []
    for number, score in enumerate(scores):
        run_id = tracker.start_trial_run(
            parent, study, number, {"n_neighbors": number + 1, "weights": "uniform"}, {}
        )
        state = "FAIL" if score is None else "COMPLETE"
        result = TrialResult(
            trial_number=number,
            state=state,
            fold_scores={} if score is None else {"accuracy": [score, score]},
            error="boom" if score is None else None,
        )
        tracker.finish_trial_run(run_id, result, ["accuracy"])
        run_ids.append(run_id)
    if finish:
        if record:
            assert write_record(tracker.client, parent)
        tracker.end_run(parent)
    return parent, run_ids


def test_every_finished_study_is_read_with_its_best_trials_whichever_way_it_is_read(
    mlflow_server, tmp_path
):
    prefix = uuid.uuid4().hex[:6]  # the server is shared by the session's tests
    written = {}
    for index in range(6):
        tracker = Tracker(
            mlflow_server.url, f"{prefix}-pipeline-{index % 2}"
        )  # studies spread over two experiments
        # the first two studies predate the record artifact: they are read by querying their trial runs
        written[f"{prefix}-s{index}"] = write_study(
            tracker,
            f"{prefix}-s{index}",
            [0.5 + index / 100, None, 0.9 - index / 100, 0.7],
            record=index >= 2,
        )
    write_study(
        Tracker(mlflow_server.url, f"{prefix}-pipeline-0"),
        f"{prefix}-running",
        [0.99],
        finish=False,
    )
    client = Tracker(mlflow_server.url, "x").client

    def mine(studies):
        return {s.study: s for s in studies if s.study.startswith(prefix)}

    def read(folder, **kwargs):
        return mine(read_history(client, mlflow_server.url, tmp_path / folder, **kwargs))

    queried = read("query-one", threads=1, use_records=False)
    queried_concurrently = read("query-many", threads=8, use_records=False)
    assert META_STORE_RECORD_TAG not in client.get_run(written[f"{prefix}-s0"][0]).data.tags
    recorded = read("records", threads=8)
    assert sorted(recorded) == sorted(written)  # the unfinished study is not history yet
    for study, (parent, trial_ids) in written.items():
        past = recorded[study]
        assert (
            past.run_id == parent
            and past.family == "knn"
            and past.metric == "accuracy"
            and past.pipeline == f"pipe-{study}"
        )
        assert past.meta == {"n_rows": 100.0 + len(study), "class_entropy": 0.9}
        # the COMPLETE trials, best first, each naming its run; the failed trial is not a configuration
        assert [c.run_id for c in past.configs] == [trial_ids[2], trial_ids[3], trial_ids[0]]
        assert [c.params["n_neighbors"] for c in past.configs] == ["3", "4", "1"]
        assert [c.score for c in past.configs] == [
            0.9 - int(study[-1]) / 100,
            0.7,
            0.5 + int(study[-1]) / 100,
        ]
        # neither concurrency nor the record changes anything that is read
        assert past.to_json() == queried[study].to_json() == queried_concurrently[study].to_json()
    # the older studies were queried once, and that read left them the record the newer ones wrote themselves
    for parent, _ in written.values():
        assert client.get_run(parent).data.tags[META_STORE_RECORD_TAG] == RECORD_ARTIFACT
    older = written[f"{prefix}-s0"][0]
    backfilled = json.loads(
        open(client.download_artifacts(older, RECORD_ARTIFACT, str(tmp_path))).read()
    )
    assert [c["run_id"] for c in backfilled["configs"]] == [
        c.run_id for c in recorded[f"{prefix}-s0"].configs
    ]
    assert {s: p.to_json() for s, p in read("records-again").items()} == {
        s: p.to_json() for s, p in recorded.items()
    }

    # the cache file now holds every study; a study deleted from MLflow drops out of the next read
    cache = cache_path(mlflow_server.url, tmp_path / "records")
    assert all(parent in cache.read_text() for parent, _ in written.values())
    client.delete_run(written[f"{prefix}-s0"][0])
    assert sorted(read("records")) == sorted(set(written) - {f"{prefix}-s0"})
    assert (
        written[f"{prefix}-s0"][0] not in cache.read_text()
    )  # and out of the cache file, which would only grow


def test_a_record_that_cannot_be_read_costs_a_query_not_the_study(mlflow_server, tmp_path):
    prefix = uuid.uuid4().hex[:6]
    tracker = Tracker(mlflow_server.url, f"{prefix}-pipeline")
    parent, trial_ids = write_study(tracker, f"{prefix}-s", [0.6, 0.8], finish=False)
    tracker.set_tags(
        parent, {META_STORE_RECORD_TAG: RECORD_ARTIFACT}
    )  # says there is a record, but none was written
    tracker.end_run(parent)
    [past] = [
        s
        for s in read_history(tracker.client, mlflow_server.url, tmp_path / "cache")
        if s.study == f"{prefix}-s"
    ]
    assert [c.run_id for c in past.configs] == [
        trial_ids[1],
        trial_ids[0],
    ]  # from the trial runs instead


def test_a_study_resumed_under_its_name_is_read_again_not_served_stale_from_the_cache(
    mlflow_server, tmp_path
):
    """A resume reuses the study's parent run: the cache keyed by run id alone kept its first best trials."""
    prefix = uuid.uuid4().hex[:6]
    tracker = Tracker(mlflow_server.url, f"{prefix}-pipeline")
    study = f"{prefix}-s"
    parent, first_trials = write_study(tracker, study, [0.6, 0.8])

    def read():
        return [
            s
            for s in read_history(tracker.client, mlflow_server.url, tmp_path / "cache")
            if s.study == study
        ]

    [before] = read()
    assert [c.run_id for c in before.configs] == [first_trials[1], first_trials[0]]
    time.sleep(0.01)  # the run's end time is in milliseconds
    resumed_parent, resumed = tracker.start_study_run(study, {}, {})
    assert (resumed_parent, resumed) == (parent, True)
    better = tracker.start_trial_run(
        parent, study, 2, {"n_neighbors": 9, "weights": "distance"}, {}
    )
    tracker.finish_trial_run(
        better,
        TrialResult(trial_number=2, state="COMPLETE", fold_scores={"accuracy": [0.95, 0.95]}),
        ["accuracy"],
    )
    assert write_record(tracker.client, parent)
    tracker.end_run(parent)
    [after] = read()
    assert [c.run_id for c in after.configs] == [better, first_trials[1], first_trials[0]]
    assert after.end_time > before.end_time
    assert (
        after.to_json()
        == [
            s
            for s in read_history(tracker.client, mlflow_server.url, tmp_path / "fresh")
            if s.study == study
        ][0].to_json()
    )


def test_a_study_run_a_warm_start_cannot_use_is_skipped_without_rewriting_the_cache(
    mlflow_server, tmp_path
):
    """A finished run tagged as a study but without a model family or metric (another tool's, a hand-made
    one) is not history; it used to be retried, and the cache file rewritten, by every warm start."""
    prefix = uuid.uuid4().hex[:6]
    tracker = Tracker(mlflow_server.url, f"{prefix}-pipeline")
    usable, _ = write_study(tracker, f"{prefix}-s", [0.6, 0.8])
    stray, _ = tracker.start_study_run(f"{prefix}-stray", {"study": f"{prefix}-stray"}, {})
    tracker.end_run(stray)
    folder = tmp_path / "cache"
    first = {s.run_id for s in read_history(tracker.client, mlflow_server.url, folder)}
    assert usable in first and stray not in first
    cache = cache_path(mlflow_server.url, folder)
    written_at = cache.stat().st_mtime_ns
    time.sleep(0.05)
    again = {s.run_id for s in read_history(tracker.client, mlflow_server.url, folder)}
    assert again == first
    assert cache.stat().st_mtime_ns == written_at  # nothing new was read, so nothing was written
