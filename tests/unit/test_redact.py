import yaml

from components.redact import redact_mapping
from components.spec import parse_spec

K8S_SPEC = {
    "data": {"source": "s3://data/train.csv"},
    "model": {"family": "random_forest"},
    "objective": {"metric": "accuracy"},
    "storage": {"url": "postgresql://kubetune:pg-Secret-1@db:5432/kubetune"},
    "executor": {"kind": "kubernetes", "kubernetes": {
        "imagePullSecrets": ["registry-pull"],
        "secretEnv": {"AWS_SECRET_ACCESS_KEY": {"name": "s3-creds", "key": "secret"},
                      "KUBETUNE_STORAGE_URL": {"name": "kubetune-study-db", "key": "url"}},
    }},
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
    masked = redact_mapping({"api_token": "t0k", "nested": [{"password": "pw", "url": "https://u:pw@host/x"}]})
    assert masked == {"api_token": "***", "nested": [{"password": "***", "url": "https://u:***@host/x"}]}
