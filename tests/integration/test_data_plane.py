"""Study storage on PostgreSQL, artifacts on S3 (moto's server), tracking on a real MLflow server."""

import pandas as pd
import pytest

from kubetune.components.core import SpecError
from kubetune.components.data import read_frame
from kubetune.components.data.artifacts import (
    ArtifactError,
    check_access,
    delete,
    object_version,
    put_file,
    read_s3_bytes,
    write_bytes,
)
from kubetune.components.execution import open_storage
from kubetune.components.execution.heartbeat import supports_heartbeat
from kubetune.components.pipeline.endpoints import check_mlflow
from tests.services import PG_PASSWORD


@pytest.fixture
def s3_env(s3, monkeypatch):
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    return s3


def test_postgres_storage_has_heartbeats_and_shares_one_study(postgres_url):
    import optuna

    storage = open_storage(postgres_url, heartbeat_interval=2)
    assert supports_heartbeat(storage)
    study = optuna.create_study(study_name="shared", storage=storage)
    other_view = optuna.load_study(study_name="shared", storage=open_storage(postgres_url))
    trial = study.ask()
    study.tell(trial, 1.5)
    assert other_view.trials[0].value == 1.5


def test_unreachable_postgres_is_named_without_its_password():
    with pytest.raises(SpecError) as caught:
        open_storage(f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:1/nowhere")
    message = str(caught.value)
    assert message.startswith(
        "storage.url: cannot open postgresql://postgres:***@127.0.0.1:1/nowhere"
    )
    assert PG_PASSWORD not in message and "\n" not in message


def test_sqlite_study_storage_is_refused():
    with pytest.raises(SpecError, match="SQLite is not safe for parallel trials"):
        open_storage("sqlite:///study.db")


def test_s3_round_trip_and_versioning(s3_env, tmp_path):
    frame = pd.DataFrame({"a": [1, 2, 3]})
    frame.to_parquet(tmp_path / "f.parquet")
    uri = put_file(tmp_path / "f.parquet", "s3://kubetune-artifacts/t/f.parquet")
    assert read_frame(uri)["a"].tolist() == [1, 2, 3]
    before = object_version(uri)
    pd.DataFrame({"a": [4]}).to_parquet(tmp_path / "f.parquet")
    put_file(tmp_path / "f.parquet", uri)
    assert object_version(uri) != before


def test_a_checkpoint_deleted_from_s3_is_gone_and_deleting_it_again_is_fine(s3_env):
    uri = write_bytes("s3://kubetune-artifacts/study/pbt/gen-0000/member-000.pt", b"weights")
    delete(uri)
    listed = s3_env.client().list_objects_v2(Bucket="kubetune-artifacts", Prefix="study/pbt/")
    assert listed["KeyCount"] == 0
    delete(uri)  # already gone (a retried clean-up): no error


def test_missing_bucket_and_unreachable_endpoint_are_named(s3_env, monkeypatch):
    with pytest.raises(
        ArtifactError,
        match=r"S3 said (NoSuchBucket|404) for s3://no-such-bucket \(endpoint http://127.0.0.1",
    ):
        check_access("s3://no-such-bucket/prefix")
    monkeypatch.setenv("KUBETUNE_S3_ENDPOINT_URL", "http://127.0.0.1:1")
    with pytest.raises(
        ArtifactError,
        match=r"cannot reach s3://kubetune-artifacts/x \(endpoint http://127.0.0.1:1\): EndpointConnectionError",
    ):
        read_s3_bytes("s3://kubetune-artifacts/x")


def test_missing_credentials_are_named(s3, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBETUNE_S3_ENDPOINT_URL", s3.url)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ArtifactError, match="no S3 credentials found for s3://kubetune-artifacts"):
        check_access("s3://kubetune-artifacts/prefix")


def test_mlflow_server_check(mlflow_server):
    check_mlflow(mlflow_server.url)
    with pytest.raises(
        SpecError,
        match=r"tracking.mlflow_uri: cannot reach the MLflow server at http://127.0.0.1:1: ConnectionError",
    ):
        check_mlflow("http://127.0.0.1:1")


def test_budget_count_on_postgres_matches_the_full_scan(postgres_url):
    import optuna
    from optuna.trial import TrialState

    from kubetune.components.execution.requeue import budget_used, requeue, study_budget_used

    study = optuna.create_study(study_name="budget", storage=open_storage(postgres_url))
    study.set_user_attr("kubetune.max_retries", 2)
    for index in range(6):
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        if index < 3:
            study.tell(trial, 1.0)
        elif index < 5:
            study.tell(trial, state=TrialState.FAIL)
            requeue(study, study.trials[trial.number], "lost")
    # 3 complete + 1 running + 2 failed-and-re-queued (not counted) + 2 waiting successors (not counted)
    assert study_budget_used(study) == budget_used(study.get_trials()) == 4
    study.ask()  # a successor starts running: it counts
    assert study_budget_used(study) == budget_used(study.get_trials()) == 5


def test_budget_lock_makes_a_second_controller_wait_on_postgres(postgres_url):
    """Two controllers (two storages, two engines) on one study: the second waits until the first lets go."""
    import threading

    import optuna

    from kubetune.components.execution.budget_lock import budget_lock

    first = optuna.create_study(study_name="locked", storage=open_storage(postgres_url))
    second = optuna.load_study(study_name="locked", storage=open_storage(postgres_url))
    held, release, second_in = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with budget_lock(first):
            held.set()
            release.wait(30)

    def enter() -> None:
        with budget_lock(second):
            second_in.set()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(30)
    waiter = threading.Thread(target=enter)
    waiter.start()
    assert not second_in.wait(1.0), (
        "the second controller entered while the first held the budget lock"
    )
    release.set()
    assert second_in.wait(30), "the second controller never got the lock once the first let go"
    holder.join(30)
    waiter.join(30)
