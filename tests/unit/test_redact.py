import pytest
import yaml

from kubetune.components.core import SpecError, masked_password_problem, redact_mapping
from kubetune.components.execution import check_storage_url, storage_url
from kubetune.components.pipeline.endpoints import check_mlflow
from kubetune.components.spec import parse_spec

K8S_SPEC = {
    "data": {"source": "s3://data/train.csv"},
    "model": {"family": "random_forest"},
    "objective": {"metric": "accuracy"},
    "storage": {"url": "postgresql://kubetune:pg-Secret-1@db:5432/kubetune"},
    "executor": {
        "kind": "kubernetes",
        "kubernetes": {
            "imagePullSecrets": ["registry-pull"],
            "secretEnv": {
                "AWS_SECRET_ACCESS_KEY": {"name": "s3-creds", "key": "secret"},
                "KUBETUNE_STORAGE_URL": {"name": "kubetune-study-db", "key": "url"},
            },
        },
    },
}


def test_the_recorded_spec_keeps_secret_references_and_loses_credentials():
    """What the parent run's spec.yaml holds: a user downloads it and runs it again, with the same pod
    Secrets; only the database password is gone."""
    spec = parse_spec(K8S_SPEC)
    recorded = yaml.safe_dump(redact_mapping(spec.model_dump(mode="json", exclude_none=True)))
    assert "pg-Secret-1" not in recorded
    again = parse_spec(yaml.safe_load(recorded))
    assert again.executor.kubernetes.imagePullSecrets == ["registry-pull"]
    assert again.executor.kubernetes.secretEnv == spec.executor.kubernetes.secretEnv
    assert again.storage.url == "postgresql://kubetune:***@db:5432/kubetune"


def test_secret_looking_keys_are_masked_outside_secret_references():
    masked = redact_mapping(
        {"api_token": "t0k", "nested": [{"password": "pw", "url": "https://u:pw@host/x"}]}
    )
    assert masked == {
        "api_token": "***",
        "nested": [{"password": "***", "url": "https://u:***@host/x"}],
    }


def test_a_masked_password_is_refused_by_name_before_any_connection(monkeypatch):
    """Run again as downloaded, the recorded spec would try the password '***': each setting names the
    problem and the environment variable that supplies the real URL."""
    monkeypatch.delenv("KUBETUNE_STORAGE_URL", raising=False)
    with pytest.raises(
        SpecError,
        match=r"^storage\.url: the password in postgresql://kubetune:\*\*\*@db:5432/kubetune is the mask .*KUBETUNE_STORAGE_URL$",
    ):
        check_storage_url(storage_url("postgresql://kubetune:***@db:5432/kubetune"))
    with pytest.raises(
        SpecError,
        match=r"^tracking\.mlflow_uri: the password in https://ml:\*\*\*@mlflow\.internal is the mask .*MLFLOW_TRACKING_URI$",
    ):
        check_mlflow("https://ml:***@mlflow.internal")


def test_the_environment_url_replaces_a_masked_one(monkeypatch):
    monkeypatch.setenv("KUBETUNE_STORAGE_URL", "postgresql://kubetune:real-pw@db:5432/kubetune")
    url = storage_url("postgresql://kubetune:***@db:5432/kubetune")
    check_storage_url(url)  # no error: the spec's masked URL is not the one used
    assert url.endswith("real-pw@db:5432/kubetune")


def test_a_real_password_or_none_passes():
    assert (
        masked_password_problem("postgresql://kubetune:s3cret@db/kubetune", "storage.url", "X")
        is None
    )
    assert masked_password_problem("postgresql://db/kubetune", "storage.url", "X") is None
    assert masked_password_problem("sqlite:///mlflow.db", "tracking.mlflow_uri", "X") is None
