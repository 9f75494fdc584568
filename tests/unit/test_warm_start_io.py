import logging

from components.tracking import Tracker
from components.tuning import _read_history_or_nothing


def test_an_unreadable_meta_store_means_a_cold_start_and_the_log_keeps_no_credential(monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("KUBETUNE_CACHE_DIR", str(tmp_path))
    tracker = Tracker("http://kubetune:s3cr3t-pw@127.0.0.1:9", "nowhere")  # nothing listens on port 9
    with caplog.at_level(logging.WARNING, logger="kubetune"):
        assert _read_history_or_nothing(tracker) == []
    [record] = [r for r in caplog.records if "meta-store could not be read" in r.getMessage()]
    assert record.getMessage().endswith("; cold start") and "s3cr3t-pw" not in record.getMessage()


def test_a_corrupt_cache_file_is_rebuilt_from_mlflow_not_fatal(tmp_path):
    from mlflow import MlflowClient

    from components.metastore import cache_path, read_history

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = cache_path(uri, tmp_path / "cache")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert read_history(MlflowClient(uri), uri, tmp_path / "cache") == []


def test_warm_start_limit_leaves_room_for_the_sampler_or_the_random_members():
    from components.spec import parse_spec
    from components.tuning import warm_start_limit

    def spec(search, warm="auto"):
        return parse_spec({"data": {"source": "sklearn:digits"}, "model": {"family": "torch_mlp"}, "objective": {"metric": "accuracy"},
                           "search": search, "warm_start": warm})

    assert warm_start_limit(spec({"n_trials": 40})) == 10  # half the budget, up to 10
    assert warm_start_limit(spec({"n_trials": 6})) == 3
    assert warm_start_limit(spec({"n_trials": 4}, {"mode": "auto", "max_trials": 9})) == 4  # never more than the budget
    assert warm_start_limit(spec({"strategy": "pbt", "pbt": {"population": 6}})) == 3  # half the population
    assert warm_start_limit(spec({"strategy": "pbt", "pbt": {"population": 6}}, {"mode": "auto", "max_trials": 8})) == 6
