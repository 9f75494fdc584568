"""The meta-store read from a real ``mlflow server`` (PostgreSQL backend store), with studies written by the
product's own Tracker: what a warm start sees is every finished study with its best trials, whether the
per-study queries run one after another or concurrently, and whether they come from MLflow or the cache."""

from __future__ import annotations

import uuid

from components.metastore import cache_path, read_history
from components.tracking import Tracker
from components.trial import TrialResult


def write_study(tracker: Tracker, study: str, scores: list[float | None], *, finish: bool = True) -> tuple[str, list[str]]:
    """A study as kubetune records it: the parent run with its spec params and meta-features, a child run
    per trial (None: a failed trial)."""
    parent, _ = tracker.start_study_run(
        study, {"study": study, "model_family": "knn", "metric": "accuracy", "direction": "maximize", "task": "classification"},
        {"kubetune.pipeline": f"pipe-{study}"},
    )
    tracker.log_metrics(parent, {"meta.n_rows": 100.0 + len(study), "meta.class_entropy": 0.9})
    run_ids = []
    for number, score in enumerate(scores):
        run_id = tracker.start_trial_run(parent, study, number, {"n_neighbors": number + 1, "weights": "uniform"}, {})
        state = "FAIL" if score is None else "COMPLETE"
        result = TrialResult(trial_number=number, state=state, fold_scores={} if score is None else {"accuracy": [score, score]},
                             error="boom" if score is None else None)
        tracker.finish_trial_run(run_id, result, ["accuracy"])
        run_ids.append(run_id)
    if finish:
        tracker.end_run(parent)
    return parent, run_ids


def test_every_finished_study_is_read_with_its_best_trials_whether_fetched_concurrently_or_not(mlflow_server, tmp_path):
    prefix = uuid.uuid4().hex[:6]  # the server is shared by the session's tests
    written = {}
    for index in range(6):
        tracker = Tracker(mlflow_server.url, f"{prefix}-pipeline-{index % 2}")  # studies spread over two experiments
        written[f"{prefix}-s{index}"] = write_study(tracker, f"{prefix}-s{index}", [0.5 + index / 100, None, 0.9 - index / 100, 0.7])
    write_study(Tracker(mlflow_server.url, f"{prefix}-pipeline-0"), f"{prefix}-running", [0.99], finish=False)

    def mine(studies):
        return {s.study: s for s in studies if s.study.startswith(prefix)}

    sequential = mine(read_history(Tracker(mlflow_server.url, "x").client, mlflow_server.url, tmp_path / "one", threads=1))
    concurrent = mine(read_history(Tracker(mlflow_server.url, "x").client, mlflow_server.url, tmp_path / "many", threads=8))

    assert sorted(concurrent) == sorted(written)  # the unfinished study is not history yet
    for study, (parent, trial_ids) in written.items():
        past = concurrent[study]
        assert past.run_id == parent and past.family == "knn" and past.metric == "accuracy" and past.pipeline == f"pipe-{study}"
        assert past.meta == {"n_rows": 100.0 + len(study), "class_entropy": 0.9}
        # the COMPLETE trials, best first, each naming its run; the failed trial is not a configuration
        assert [c.run_id for c in past.configs] == [trial_ids[2], trial_ids[3], trial_ids[0]]
        assert [c.params["n_neighbors"] for c in past.configs] == ["3", "4", "1"]
        assert past.configs[0].score == sequential[study].configs[0].score
        assert past.to_json() == sequential[study].to_json()  # concurrency changes nothing that is read

    # the cache file now holds every study; a study deleted from MLflow drops out of the next read
    cache = cache_path(mlflow_server.url, tmp_path / "many")
    assert all(parent in cache.read_text() for parent, _ in written.values())
    client = Tracker(mlflow_server.url, "x").client
    client.delete_run(written[f"{prefix}-s0"][0])
    again = mine(read_history(client, mlflow_server.url, tmp_path / "many", threads=8))
    assert sorted(again) == sorted(set(written) - {f"{prefix}-s0"})
