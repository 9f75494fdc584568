"""The production path as a platform team takes it, run as one piece on the simulated cluster.

The Helm chart is rendered with the values a team with its own PostgreSQL, S3 and Prefect API sets
(the machine's PostgreSQL, moto's S3 server, a real Prefect server); its Secrets, ConfigMaps and RBAC are
loaded into the stand-in API server (HTTPS, ServiceAccount tokens, the chart's Roles enforced); the test
kubelet runs every pod inside the images `make images` built. The chart's MLflow Deployment and Prefect
worker Deployment run as pods; the `weekly-retrain` deployment of prefect.yaml is deployed and triggered
through the Prefect API; the worker creates the flow-run Job, which runs in the controller image and
creates trial Jobs, which run in the trial image. Then the chart's retrain CronJob is run once
(``kubectl create job --from=cronjob``). Asserted: what a user sees -- the flow run's final state, the
MLflow store (parent, trial and refit runs, the registered model and its alias), the API objects left
(none), the pods' commands, users and environments, and no request refused by RBAC.

Needs buildah, root (mount namespaces) and the images; without buildah the test is skipped with one
line, unless KUBETUNE_REQUIRE_PLATFORM_TEST=1 (CI), where that is a failure.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, VENV_BIN, free_port, wait_for_http
from tests.k8s.container_runtime import BuildahRuntime
from tests.k8s.fake_api import FakeKubeAPI
from tests.k8s.kubelet import TestKubelet
from tests.services import AWS_KEY_ID, AWS_SECRET, PG_PASSWORD, create_database, drop_database

NAMESPACE = RELEASE = "kubetune"
TAG = "0.1.0"
IMAGES = (f"localhost/kubetune-controller:{TAG}", f"localhost/kubetune-trial:{TAG}")
N_TRIALS = 4


def _missing_platform() -> str | None:
    if shutil.which("buildah") is None:
        return "buildah is not installed (Debian: apt-get install buildah debootstrap), so no image can be built or run"
    if os.geteuid() != 0:
        return "running pods in images needs root (buildah's chroot isolation and mount namespaces)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is missing"
    return None


@pytest.fixture(scope="module")
def images() -> tuple[str, str]:
    reason = _missing_platform()
    if reason:
        if os.environ.get("KUBETUNE_REQUIRE_PLATFORM_TEST") == "1":
            pytest.fail(f"platform test required but cannot run: {reason}")
        pytest.skip(reason)
    # always (re)built, so the pods run the code under test: the layer cache keeps this to a minute when
    # only kubetune changed; from nothing (debootstrap, the wheelhouse, both images) it takes about five
    build = subprocess.run(
        [str(REPO / "infra" / "build-images.sh")],
        env={**os.environ, "PYTHON": str(VENV_BIN / "python")},
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-3000:]
    present = subprocess.run(
        ["buildah", "images", "--format", "{{.Name}}:{{.Tag}}"], capture_output=True, text=True
    ).stdout.split()
    assert all(image in present for image in IMAGES), present
    return IMAGES


def render_chart(values: dict[str, Any]) -> list[dict[str, Any]]:
    import helm_python

    manifests = helm_python.Chart.load(REPO / "helm" / "kubetune").render(
        values, name=RELEASE, namespace=NAMESPACE
    )
    return [
        doc
        for path, text in manifests.items()
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def install(api: FakeKubeAPI, objects: list[dict[str, Any]]) -> None:
    """What `helm install` leaves that pods read: Secrets, ConfigMaps, and the Roles bound to accounts."""
    roles = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Role"}
    for obj in objects:
        if obj["kind"] in ("Secret", "ConfigMap"):
            code, body = api.state.create(obj["kind"].lower() + "s", NAMESPACE, obj)
            assert code == 201, body
        elif obj["kind"] == "RoleBinding":
            rules = roles[obj["roleRef"]["name"]]["rules"]
            for subject in obj["subjects"]:
                api.state.authorizer.grant_role(
                    subject.get("namespace", NAMESPACE), subject["name"], rules
                )


def deployment_pod(deployment: dict[str, Any]) -> dict[str, Any]:
    """The pod a ReplicaSet makes of a Deployment's template."""
    template = deployment["spec"]["template"]
    name = f"{deployment['metadata']['name']}-{uuid.uuid4().hex[:5]}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": template["metadata"]["labels"]},
        "spec": template["spec"],
    }


def wait_until(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def platform(images, s3, prefect_api, tmp_path):
    """The release installed on the simulated cluster, its MLflow and Prefect worker pods running."""
    databases = {key: create_database() for key in ("mlflow", "studies", "prefect")}
    bucket = f"kt-{uuid.uuid4().hex[:8]}"
    s3.client().create_bucket(Bucket=bucket)
    mlflow_port = free_port()
    values = {
        "image": {"repository": "kubetune-controller", "tag": TAG},
        "postgresql": {"enabled": False},
        "externalDatabase": {
            "host": "127.0.0.1",
            "port": 5432,
            "username": "postgres",
            "password": PG_PASSWORD,
        },
        "databases": databases,
        "s3": {"bucket": bucket, "endpointUrl": s3.url, "existingSecret": "platform-s3"},
        "mlflow": {"port": mlflow_port, "workers": 1},
        "prefect": {
            "externalApiUrl": prefect_api,
            "worker": {"finishedJobTtl": 3, "healthPort": free_port()},
        },
        "trials": {
            "image": f"kubetune-trial:{TAG}",
            "resources": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"memory": "3Gi"},
            },
            # two trials per trial pod: the packed path from the chart's values to the pods' results
            "packing": {"trials": 2, "mode": "processes"},
        },
        "retrain": {
            "cronJob": {"enabled": True},
            "spec": {
                "study": f"platform-{uuid.uuid4().hex[:6]}",
                "data": {
                    "source": "sklearn:breast_cancer",
                    "target": "target",
                    "task": "classification",
                    "test_size": 0.2,
                },
                "model": {"family": "logistic_regression"},
                "objective": {"metric": "roc_auc", "direction": "maximize"},
                "search": {"n_trials": N_TRIALS, "parallelism": 2, "seed": 7},
                "warm_start": "same_pipeline",
            },
        },
    }
    objects = render_chart(values)
    api = FakeKubeAPI(tls=True).start()
    platform_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "platform-s3"},
        "data": {
            "access-key-id": base64.b64encode(AWS_KEY_ID.encode()).decode(),
            "secret-access-key": base64.b64encode(AWS_SECRET.encode()).decode(),
        },
    }
    install(api, [*objects, platform_secret])
    kubelet = TestKubelet(
        api, NAMESPACE, {}, runtime=BuildahRuntime(hosts={f"{RELEASE}-mlflow": "127.0.0.1"})
    ).start()
    mlflow_pod = deployment_pod(named(objects, "Deployment", f"{RELEASE}-mlflow"))
    worker_pod = deployment_pod(named(objects, "Deployment", f"{RELEASE}-prefect-worker"))
    try:
        kubelet.run_pod(mlflow_pod)
        mlflow_url = (
            f"http://localhost:{mlflow_port}"  # a Host the chart allows (MLflow refuses others)
        )
        wait_for_http(f"{mlflow_url}/health", timeout=180)
        kubelet.run_pod(worker_pod)
        worker_health = values["prefect"]["worker"]["healthPort"]
        wait_for_http(
            f"http://127.0.0.1:{worker_health}/health", timeout=180
        )  # the chart's startupProbe
        yield {
            "api": api,
            "kubelet": kubelet,
            "objects": objects,
            "values": values,
            "mlflow": mlflow_url,
            "prefect": prefect_api,
            "pods": {
                "mlflow": mlflow_pod["metadata"]["name"],
                "worker": worker_pod["metadata"]["name"],
            },
        }
    finally:
        for pod in (worker_pod, mlflow_pod):
            api.state.delete("pods", NAMESPACE, pod["metadata"]["name"], None)
        kubelet.stop()
        api.stop()
        for name in databases.values():
            drop_database(name)
        for name, log in api.state.logs.items():
            (tmp_path / f"{name[1]}.log").write_text(log)
        assert_no_container_left()


def assert_no_container_left() -> None:
    """Deleting a pod ends all of its processes and removes its working container, servers included."""
    left = subprocess.run(
        ["buildah", "containers", "--format", "{{.ContainerName}}"], capture_output=True, text=True
    ).stdout.split()
    assert [name for name in left if name.startswith("kubelet-")] == [], left
    commands = subprocess.run(
        ["ps", "-o", "args=", "-u", "10001"], capture_output=True, text=True
    ).stdout.splitlines()
    left = [
        command for command in commands if "/opt/kubetune/" in command
    ]  # the images' virtualenv
    assert left == [], f"{len(left)} processes of the pods outlived them: {left[:3]}"


def deploy_and_trigger(prefect_api: str, parameters: dict[str, Any], home: Path) -> str:
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_HOME": str(home)}
    result = subprocess.run(
        [str(VENV_BIN / "prefect"), "--no-prompt", "deploy", "--name", "weekly-retrain"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # through the Prefect REST API: an in-process client would follow whatever settings earlier tests in
    # this worker left (a temporary server), not PREFECT_API_URL
    import requests

    deployment = requests.get(f"{prefect_api}/deployments/name/retrain/weekly-retrain", timeout=30)
    assert deployment.status_code == 200, deployment.text
    run = requests.post(
        f"{prefect_api}/deployments/{deployment.json()['id']}/create_flow_run",
        json={"parameters": parameters},
        timeout=30,
    )
    assert run.status_code == 201, run.text
    return run.json()["id"]


def flow_run_state(prefect_api: str, run_id: str) -> tuple[str, str]:
    import requests

    body = requests.get(f"{prefect_api}/flow_runs/{run_id}", timeout=10).json()
    return body["state_type"], (body.get("state") or {}).get("message") or ""


def logs_of(api: FakeKubeAPI, prefix: str) -> str:
    return "\n".join(
        f"--- {name}\n{text[-3000:]}"
        for (_, name), text in api.state.logs.items()
        if name.startswith(prefix)
    )


def test_a_scheduled_retrain_runs_from_the_chart_to_the_registered_model(platform, tmp_path):
    api, kubelet, objects = platform["api"], platform["kubelet"], platform["objects"]
    spec = yaml.safe_load(
        named(objects, "ConfigMap", f"{RELEASE}-retrain-spec")["data"]["spec.yaml"]
    )

    # -- the weekly-retrain deployment of prefect.yaml, triggered with this release's spec -------------------
    run_id = deploy_and_trigger(
        platform["prefect"],
        {"spec": spec, "margin": 0.0, "alias": "champion"},
        tmp_path / "prefect-client",
    )

    def finished() -> tuple[str, str] | None:
        state = flow_run_state(platform["prefect"], run_id)
        return state if state[0] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    try:
        state, message = wait_until(finished, 900, "the flow run to finish", interval=3)
    except AssertionError:
        raise AssertionError(f"flow run not finished; pod logs:\n{logs_of(api, '')}") from None
    assert state == "COMPLETED", f"{state}: {message}\n{logs_of(api, '')}"

    # -- the flow-run pod: the worker's Job, in the controller image, as the controller's account --------
    created = [
        name for verb, plural, _, name in api.state.audit if verb == "create" and plural == "jobs"
    ]
    flow_jobs = [
        e.obj
        for e in api.state.events
        if e.plural == "jobs"
        and e.type == "ADDED"
        and "prefect.io/flow-run-id" in e.obj["metadata"].get("labels", {})
    ]
    assert len(flow_jobs) == 1, created
    flow_pod_spec = flow_jobs[0]["spec"]["template"]["spec"]
    [container] = flow_pod_spec["containers"]
    assert container["image"] == f"kubetune-controller:{TAG}" and "command" not in container
    assert container["args"] == ["prefect", "flow-run", "execute"]
    assert flow_pod_spec["serviceAccountName"] == f"{RELEASE}-controller"
    env = {item["name"]: item for item in container["env"]}
    assert env["KUBETUNE_STORAGE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{RELEASE}-db",
        "key": "study-url",
    }
    assert PG_PASSWORD not in str(flow_jobs[0]) and AWS_SECRET not in str(flow_jobs[0])

    # -- trial Jobs, in the trial image, with no token and a HOME --------------------------------------------
    trial_jobs = [
        e.obj
        for e in api.state.events
        if e.plural == "jobs"
        and e.type == "ADDED"
        and "kubetune.io/trial" in e.obj["metadata"].get("labels", {})
    ]
    members = [
        job["metadata"].get("annotations", {}).get("kubetune.io/members", "").split(",")
        for job in trial_jobs
    ]
    # the warm start may take a trial from history
    assert sum(len(m) for m in members) >= N_TRIALS - 1, created
    assert any(len(m) == 2 for m in members), members  # two trials in one pod
    trial_spec = trial_jobs[0]["spec"]["template"]["spec"]
    assert trial_spec["containers"][0]["image"] == f"kubetune-trial:{TAG}"
    assert trial_spec.get("automountServiceAccountToken") is False
    assert "HOME" in {item["name"] for item in trial_spec["containers"][0].get("env", [])}

    # -- nobody ran as root, and no request was refused by RBAC ------------------------------------------------
    assert kubelet.users and all(uid != 0 and gid != 0 for uid, gid in kubelet.users.values()), (
        kubelet.users
    )
    assert api.state.denied == []

    # -- the MLflow store -----------------------------------------------------------------------------------------
    from mlflow import MlflowClient

    client = MlflowClient(platform["mlflow"])
    experiment = client.get_experiment_by_name(spec["study"]) or next(
        e for e in client.search_experiments() if e.name.startswith(spec["study"])
    )
    runs = client.search_runs([experiment.experiment_id], max_results=200)
    roles = {}
    for run in runs:
        roles.setdefault(run.data.tags.get("kubetune.role"), []).append(run)
    assert len(roles.get("study", [])) == 1 and roles["study"][0].info.status == "FINISHED", {
        k: len(v) for k, v in roles.items()
    }
    assert len(roles.get("trial", [])) >= N_TRIALS - 1 and len(roles.get("refit", [])) == 1, {
        k: len(v) for k, v in roles.items()
    }
    packed = [r for r in roles["trial"] if r.data.tags.get("kubetune.packing.mode") == "processes"]
    assert len(packed) >= 2 and all(r.data.tags["kubetune.packing.size"] == "2" for r in packed)
    model_name = spec.get("tracking", {}).get("registered_model") or spec["study"]
    champion = client.get_model_version_by_alias(model_name, "champion")
    assert champion.run_id in {run.info.run_id for run in roles["refit"]}

    # -- nothing left behind: trial Jobs deleted by the controller, the flow-run Job by its TTL -----------------
    wait_until(
        lambda: api.state.list("jobs", NAMESPACE, None)["items"] == [], 60, "every Job to be gone"
    )
    left = {p["metadata"]["name"] for p in api.state.list("pods", NAMESPACE, None)["items"]}
    assert left == set(platform["pods"].values()), left  # only the two Deployments' pods

    # -- the chart's retrain CronJob, run once (kubectl create job --from=cronjob/...) --------------------------
    cronjob = named(objects, "CronJob", f"{RELEASE}-retrain")
    api.state.create(
        "jobs",
        NAMESPACE,
        {
            "metadata": {
                "name": "retrain-manual",
                "labels": {"app.kubernetes.io/name": "kubetune"},
            },
            "spec": cronjob["spec"]["jobTemplate"]["spec"],
        },
    )

    def retrain_job_done() -> dict[str, Any] | None:
        job = api.state.get("jobs", NAMESPACE, "retrain-manual")
        conditions = (job or {}).get("status", {}).get("conditions") or []
        return job if conditions else None

    job = wait_until(retrain_job_done, 900, "the CronJob's retrain Job to finish", interval=3)
    log = logs_of(api, "retrain-manual")
    assert job["status"]["conditions"][0]["type"] == "Complete", log
    # the same data version: it found the flow run's study in the shared stores, trained nothing new, and
    # left the alias where it was
    assert "'champion' stays on version 1" in log, log
    assert [v.version for v in client.search_model_versions(f"name='{model_name}'")] == ["1"]
    assert api.state.denied == []
    # the worker's observer watched its own namespace (cluster-wide it would have been refused)
    observed = {
        (verb, resource, ns)
        for account, verb, resource, ns in api.state.requests
        if account == f"{RELEASE}-prefect-worker"
    }
    assert ("watch", "pods", NAMESPACE) in observed and ("create", "jobs", NAMESPACE) in observed, (
        observed,
        set(api.state.requests),
    )
    assert all(uid != 0 for uid, _ in kubelet.users.values())


def test_the_kubelet_runs_a_pod_as_its_manifest_and_image_say(images, tmp_path):
    """A pod in the trial image: the image's user, a read-only root with a writable emptyDir, env from a
    Secret and $(VAR); a root pod refused under runAsNonRoot and an absent image both reported as kubelets do."""
    api = FakeKubeAPI(tls=True).start()
    kubelet = TestKubelet(
        api, NAMESPACE, {"db": {"password": "pw-1"}}, runtime=BuildahRuntime()
    ).start()
    script = 'id -u; id -g; echo "$HOME|$URL"; touch /x 2>/dev/null || echo read-only; touch /tmp/x && echo tmp-ok; cat /proc/1/cmdline | tr "\\0" " "'
    container = {
        "name": "c",
        "image": f"kubetune-trial:{TAG}",
        "command": ["sh", "-c", script],
        "env": [
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "URL", "value": "pg://u:$(PW)@h"},
        ],
        "securityContext": {"readOnlyRootFilesystem": True, "runAsNonRoot": True},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pods = {
        "runs": {
            "automountServiceAccountToken": False,
            "containers": [container],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
        "root": {
            "automountServiceAccountToken": False,
            "securityContext": {"runAsUser": 0},
            "containers": [container],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
        "absent": {
            "containers": [{**container, "image": "kubetune-nothing:0"}],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }
    try:
        threads = [
            kubelet.run_pod({"metadata": {"name": name}, "spec": spec})
            for name, spec in pods.items()
        ]
        for thread in threads:
            thread.join(timeout=120)
        status = {name: api.state.get("pods", NAMESPACE, name)["status"] for name in pods}
        assert status["runs"]["phase"] == "Succeeded", api.state.logs.get((NAMESPACE, "runs"))
        assert api.state.logs[(NAMESPACE, "runs")].split("\n")[:5] == [
            "10001",
            "10001",
            "/tmp|pg://u:pw-1@h",
            "read-only",
            "tmp-ok",
        ]
        assert (
            api.state.logs[(NAMESPACE, "runs")].split("\n")[5].startswith("sh -c")
        )  # PID 1 of its own namespace
        waiting = {
            name: status[name]["containerStatuses"][0]["state"]["waiting"]
            for name in ("root", "absent")
        }
        assert waiting["root"] == {
            "reason": "CreateContainerConfigError",
            "message": "container has runAsNonRoot and image will run as root",
        }
        assert waiting["absent"]["reason"] == "ErrImageNeverPull"
    finally:
        kubelet.stop()
        api.stop()
        assert_no_container_left()
