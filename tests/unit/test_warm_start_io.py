import logging

from kubetune.components.pipeline.warm_start import _read_history_or_nothing
from kubetune.components.tracking import Tracker


def test_an_unreadable_meta_store_means_a_cold_start_and_the_log_keeps_no_credential(
    monkeypatch, caplog, tmp_path
):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("KUBETUNE_CACHE_DIR", str(tmp_path))
    tracker = Tracker(
        "http://kubetune:s3cr3t-pw@127.0.0.1:9", "nowhere"
    )  # nothing listens on port 9
    with caplog.at_level(logging.WARNING, logger="kubetune"):
        assert _read_history_or_nothing(tracker) == []
    [record] = [r for r in caplog.records if "meta-store could not be read" in r.getMessage()]
    assert record.getMessage().endswith("; cold start") and "s3cr3t-pw" not in record.getMessage()


def test_a_corrupt_cache_file_is_rebuilt_from_mlflow_not_fatal(tmp_path):
    from mlflow import MlflowClient

    from kubetune.components.warmstart.metastore import cache_path, read_history

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = cache_path(uri, tmp_path / "cache")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert read_history(MlflowClient(uri), uri, tmp_path / "cache") == []


def test_warm_start_limit_leaves_room_for_the_sampler_or_the_random_members():
    from kubetune.components.pipeline.warm_start import warm_start_limit
    from kubetune.components.spec import parse_spec

    def spec(search, warm="auto"):
        return parse_spec(
            {
                "data": {"source": "sklearn:digits"},
                "model": {"family": "torch_mlp"},
                "objective": {"metric": "accuracy"},
                "search": search,
                "warm_start": warm,
            }
        )

    assert warm_start_limit(spec({"n_trials": 40})) == 10  # half the budget, up to 10
    assert warm_start_limit(spec({"n_trials": 6})) == 3
    assert (
        warm_start_limit(spec({"n_trials": 4}, {"mode": "auto", "max_trials": 9})) == 4
    )  # never more than the budget
    assert (
        warm_start_limit(spec({"strategy": "pbt", "pbt": {"population": 6}})) == 3
    )  # half the population
    assert (
        warm_start_limit(
            spec({"strategy": "pbt", "pbt": {"population": 6}}, {"mode": "auto", "max_trials": 8})
        )
        == 6
    )


def test_a_resumed_warm_started_study_knows_its_warm_trials_so_its_sampler_is_built_the_same(
    tmp_path,
):
    from kubetune.components.execution import open_storage
    from kubetune.components.pipeline.warm_start import enqueue_warm_start, warm_trials_of
    from kubetune.components.search import open_study, resolve_space, sampler_for
    from kubetune.components.search.interleaved_sampler import InterleavedSampler
    from kubetune.components.spec import parse_spec
    from kubetune.components.warmstart import WarmConfig, WarmStartPlan

    spec = parse_spec(
        {
            "data": {"source": "sklearn:iris"},
            "model": {"family": "knn"},
            "objective": {"metric": "accuracy"},
            "search": {"sampler": "tpe", "n_trials": 30},
        }
    )
    space = resolve_space(spec, "classification")
    plan = WarmStartPlan(
        "auto",
        "same_pipeline",
        [
            WarmConfig({"n_neighbors": k}, f"run-{k}", "past", "same_pipeline", 0.9, "maximize")
            for k in (3, 5)
        ],
    )
    url = f"journal://{tmp_path / 'studies.journal'}"
    study, resumed = open_study(
        "s", open_storage(url), sampler_for(spec, space, [], 2)[1], ["maximize"], "fp"
    )
    assert not resumed
    enqueue_warm_start(study, plan)
    again, resumed = open_study(
        "s", open_storage(url), sampler_for(spec, space, [], 0)[1], ["maximize"], "fp"
    )  # another process
    assert resumed and warm_trials_of(again) == 2
    sampler = sampler_for(spec, space, [], warm_trials_of(again))[1]
    assert isinstance(sampler, InterleavedSampler) and sampler.model._n_startup_trials == 2
    cold, _ = open_study(
        "cold", open_storage(url), sampler_for(spec, space, [], 0)[1], ["maximize"], "fp"
    )
    assert warm_trials_of(cold) == 0  # a cold study, or one begun before the count was kept


def test_a_record_that_cannot_be_written_is_a_warning_not_a_failed_study_and_names_no_credential(
    monkeypatch, caplog
):
    from kubetune.components.warmstart import write_record

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    tracker = Tracker(
        "http://kubetune:s3cr3t-pw@127.0.0.1:9", "nowhere"
    )  # nothing listens on port 9
    with caplog.at_level(logging.WARNING, logger="kubetune"):
        assert write_record(tracker.client, "0123456789abcdef") is False
    [record] = [
        r for r in caplog.records if "no record written for run 0123456789abcdef" in r.getMessage()
    ]
    assert (
        record.getMessage().endswith("later warm starts query its trials")
        and "s3cr3t-pw" not in record.getMessage()
    )


def test_a_cache_folder_that_cannot_be_written_keeps_the_history_it_read(tmp_path, caplog):
    """A controller whose cache folder is not writable (read-only root file system) must still warm-start:
    the history read from MLflow is used, and the log says the cache was not written."""
    from kubetune.components.core import TrialResult
    from kubetune.components.warmstart import read_history

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "pipeline")
    parent, _ = tracker.start_study_run(
        "past",
        {"study": "past", "model_family": "knn", "metric": "accuracy", "direction": "maximize"},
        {},
    )
    trial = tracker.start_trial_run(parent, "past", 0, {"n_neighbors": 7}, {})
    tracker.finish_trial_run(
        trial,
        TrialResult(trial_number=0, state="COMPLETE", fold_scores={"accuracy": [0.9, 0.9]}),
        ["accuracy"],
    )
    tracker.end_run(parent)
    (tmp_path / "not-a-folder").write_text("")
    with caplog.at_level(logging.WARNING, logger="kubetune"):
        [past] = read_history(tracker.client, uri, tmp_path / "not-a-folder" / "cache")
    assert past.study == "past" and [c.params for c in past.configs] == [{"n_neighbors": "7"}]
    assert any("not written" in r.getMessage() for r in caplog.records)


def test_meta_features_are_read_from_params_and_from_older_studies_metrics():
    from kubetune.components.warmstart.metastore import meta_features_of

    now = {
        "meta.n_rows": "455",
        "meta.class_entropy": "0.9526",
        "meta.note": "not a number",
        "C": "1",
    }
    assert meta_features_of(now, {}) == {"n_rows": 455.0, "class_entropy": 0.9526}
    before = {"meta.n_rows": 455.0, "cv_accuracy": 0.9}
    assert meta_features_of({"C": "1"}, before) == {"n_rows": 455.0}
