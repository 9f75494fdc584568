"""The chart's MLflow containers, run for real: the rendered command, args and env (Secrets resolved and
$(VAR) expanded as the kubelet does) start an `mlflow server` on the machine's PostgreSQL with moto's S3
as the artifact store. A rendered manifest can be schema-valid and still not start; this catches that."""

from __future__ import annotations

import base64
import os
import subprocess
import uuid

import helm_python
import pytest
import requests
import yaml

from tests.conftest import VENV_BIN, free_port, wait_for_http
from tests.deploy.test_helm_chart import CHART, NAMESPACE
from tests.k8s.container_runtime import container_env
from tests.services import (
    AWS_KEY_ID,
    AWS_SECRET,
    PG_PASSWORD,
    create_database,
    drop_database,
    stop_process,
)


def run_container(container, secrets, tmp_path, wait=True):
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        **container_env(container, secrets.__getitem__, lambda name: {}),
    }  # as the test kubelet builds it
    env.pop("MLFLOW_TRACKING_URI", None)
    command = container["command"] + container.get("args", [])
    if not wait:
        return subprocess.Popen(
            command,
            env=env,
            cwd=tmp_path,
            stdout=open(tmp_path / f"{container['name']}.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    result = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.parametrize("auth", [False, True], ids=["open", "basic-auth"])
def test_rendered_mlflow_server_starts_and_stores_runs_and_artifacts(tmp_path, s3, auth):
    database, port = create_database(), free_port()
    bucket = f"kt-{uuid.uuid4().hex[:8]}"
    values = {
        "postgresql": {"enabled": False},
        "externalDatabase": {
            "host": "127.0.0.1",
            "port": 5432,
            "username": "postgres",
            "password": PG_PASSWORD,
        },
        "databases": {"mlflow": database},
        "minio": {
            "enabled": True,
            "image": {
                "repository": "registry.example.com/minio",
                "tag": "RELEASE.2025-10-15T17-29-55Z",
            },
        },  # the bucket-creating init container runs too
        "s3": {"bucket": bucket, "endpointUrl": s3.url, "existingSecret": "platform-s3"},
        "mlflow": {
            "port": port,
            "workers": 1,
            "auth": {"enabled": auth, "existingSecret": "platform-mlflow-auth" if auth else ""},
        },
    }
    manifests = helm_python.Chart.load(CHART).render(values, name="kt", namespace=NAMESPACE)
    objects = [
        d
        for p, t in manifests.items()
        if not p.endswith("NOTES.txt")
        for d in yaml.safe_load_all(t)
        if d
    ]
    secrets = {
        o["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in o["data"].items()}
        for o in objects
        if o["kind"] == "Secret"
    }
    secrets["platform-s3"] = {"access-key-id": AWS_KEY_ID, "secret-access-key": AWS_SECRET}
    secrets["platform-mlflow-auth"] = {
        "password": "Admin-Secret-6e1f0b2a",
        "flask-secret-key": "Flask-Secret-9c4d7e31a2b5",
    }
    [deployment] = [
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "kt-kubetune-mlflow"
    ]
    pod = deployment["spec"]["template"]["spec"]
    process = None
    try:
        run_container(pod["initContainers"][0], secrets, tmp_path)
        assert bucket in [b["Name"] for b in s3.client().list_buckets()["Buckets"]]
        process = run_container(pod["containers"][0], secrets, tmp_path, wait=False)
        url = f"http://localhost:{port}"
        wait_for_http(f"{url}/health", timeout=120, process=process)

        from mlflow import MlflowClient

        if auth:
            admin = secrets["platform-mlflow-auth"]["password"]
            denied = requests.get(
                f"{url}/api/2.0/mlflow/experiments/search?max_results=1", timeout=10
            )
            assert denied.status_code == 401
            os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = (
                "admin",
                admin,
            )
        # the allowed-hosts list admits the Service's names and nothing else
        spoofed = requests.get(
            f"{url}/api/2.0/mlflow/experiments/search?max_results=1",
            headers={"Host": "evil.example"},
            timeout=10,
        )
        assert spoofed.status_code in (400, 403)
        client = MlflowClient(url)
        experiment = client.create_experiment(f"chart-{uuid.uuid4().hex[:6]}")
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "accuracy", 0.9)
        (tmp_path / "note.txt").write_text("artifact through the MLflow proxy")
        client.log_artifact(run.info.run_id, str(tmp_path / "note.txt"))
        keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert any(k.startswith("mlflow/") and k.endswith("note.txt") for k in keys), keys
        assert MlflowClient(url).get_run(run.info.run_id).data.metrics == {"accuracy": 0.9}
    finally:
        os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
        os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
        if process is not None:
            stop_process(process)
        drop_database(database)
