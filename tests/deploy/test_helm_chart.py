"""The Helm chart, rendered offline by Helm's own engine (helm-python-sdk) with several value sets, linted
strictly, and every object validated against the official Kubernetes schemas; then read the way a
platform team's reviewer would: privileges, secrets, network reach, GPU scheduling, the retrain spec."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import helm_python
import pytest
import yaml

from kubetune.components.spec import parse_spec
from tests.deploy.checks import (
    CONTROLLER_GRANTS,
    assert_least_privilege,
    assert_no_plain_credentials,
    assert_secure_pods,
    assert_services_are_probed,
    granted,
    pod_specs,
    validate_all,
)

CHART = Path(__file__).resolve().parents[2] / "helm" / "kubetune"
NAMESPACE = "ml-platform"

VALUE_SETS = {
    "defaults": {},
    "external-postgresql": {
        "postgresql": {"enabled": False},
        "externalDatabase": {
            "host": "pg.internal.example",
            "port": 6432,
            "existingSecret": "platform-pg",
        },
        "prefect": {
            "externalApiUrl": "https://prefect.example/api/accounts/a/workspaces/w",
            "apiKeySecret": "prefect-cloud",
        },
    },
    "gpu-trials": {
        "trials": {
            "gpu": {"enabled": True, "count": 2},
            "packing": {"trials": 16, "mode": "processes"},
        },
        "retrain": {"cronJob": {"enabled": True}},
    },
    "auth-on": {
        "mlflow": {
            "auth": {"enabled": True, "existingSecret": "platform-mlflow-auth"},
            "allowedHosts": ["mlflow.example.com"],
        },
        "minio": {
            "enabled": True,
            "image": {
                "repository": "registry.example.com/minio",
                "tag": "RELEASE.2025-10-15T17-29-55Z",
            },
        },
        "s3": {"existingSecret": "platform-s3"},
        "networkPolicy": {
            "uiFrom": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                    }
                }
            ]
        },
        "retrain": {"cronJob": {"enabled": True}},
    },
}


# The chart generates no credential (a generated one changes on every offline render): every render names one.
DB_PASSWORD = "Chart-Test-Password-2f9c1d8e"


def with_credentials(values):
    merged = json.loads(json.dumps(values))
    merged.setdefault("postgresql", {}).setdefault("auth", {}).setdefault("password", DB_PASSWORD)
    return merged


def render(values, name="kt", credentials=True):
    chart = helm_python.Chart.load(CHART)
    manifests = chart.render(
        with_credentials(values) if credentials else values, name=name, namespace=NAMESPACE
    )
    objects = [
        doc
        for path, text in manifests.items()
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    return objects, manifests


def by_kind(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request):
    objects, manifests = render(VALUE_SETS[request.param])
    return request.param, objects, manifests


def test_lint_is_clean_in_strict_mode_for_every_value_set():
    for values in VALUE_SETS.values():
        report = helm_python.lint(
            str(CHART), with_credentials(values), strict=True, namespace=NAMESPACE
        )
        assert report["errors"] == [], report
        assert [m for m in report["messages"] if m["severity"] > 1] == [], report["messages"]


def test_every_object_validates_strictly(rendered):
    _, objects, _ = rendered
    assert len(objects) >= 12
    validate_all(objects)


def test_pods_are_non_root_read_only_and_unprivileged(rendered):
    _, objects, _ = rendered
    checked = assert_secure_pods(
        objects, token_allowed={"kt-kubetune-controller", "kt-kubetune-prefect-worker"}
    )
    assert checked >= 3
    assert_services_are_probed(objects)


def test_credentials_only_through_secret_refs_and_never_in_plain_text(rendered):
    name, objects, manifests = rendered
    assert_no_plain_credentials(objects)
    secrets = by_kind(objects, "Secret")
    generated = [
        base64.b64decode(v).decode() for s in secrets.values() for v in s.get("data", {}).values()
    ]
    rendered_elsewhere = "\n".join(
        text for path, text in manifests.items() if not path.endswith("secrets.yaml")
    )
    for value in generated:
        for token in re.findall(r"[A-Za-z0-9]{16,}", value):
            assert token not in rendered_elsewhere, (
                f"{name}: a secret value appears outside its Secret"
            )
    configmaps = by_kind(objects, "ConfigMap")
    for cm in configmaps.values():
        for text in cm["data"].values():
            assert not re.search(r"://[^/\s]*:[^/\s]*@", text), (
                f"{cm['metadata']['name']} holds a URL with a password"
            )


def test_rbac_is_namespaced_and_minimal(rendered):
    _, objects, _ = rendered
    assert_least_privilege(objects)
    roles = by_kind(objects, "Role")
    assert granted(roles["kt-kubetune-controller"]) == CONTROLLER_GRANTS
    binding = by_kind(objects, "RoleBinding")["kt-kubetune-controller"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kt-kubetune-controller", "namespace": NAMESPACE}
    ]
    trial_sa = by_kind(objects, "ServiceAccount")["kt-kubetune-trial"]
    assert trial_sa["automountServiceAccountToken"] is False
    assert not any(
        s["name"] == "kt-kubetune-trial"
        for b in by_kind(objects, "RoleBinding").values()
        for s in b["subjects"]
    )


def test_network_policies_deny_by_default_and_keep_trials_off_the_prefect_api(rendered):
    name, objects, _ = rendered
    policies = by_kind(objects, "NetworkPolicy")
    deny = policies["kt-kubetune-default-deny"]["spec"]
    assert deny == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "kubetune"}},
        "policyTypes": ["Ingress", "Egress"],
    }
    egress = policies["kt-kubetune-egress"]["spec"]["egress"]
    assert {p["port"] for p in egress[0]["ports"]} == {53}
    assert egress[1] == {
        "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "kubetune"}}}]
    }
    assert {p["port"] for p in egress[2]["ports"]} == {443, 5432, 6443}
    protected = {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: p
        for p in policies.values()
        if "app.kubernetes.io/component" in p["spec"]["podSelector"].get("matchLabels", {})
    }
    expected = (
        {"mlflow"}
        | ({"postgresql"} if name != "external-postgresql" else set())
        | ({"minio"} if name == "auth-on" else set())
        | ({"prefect-server"} if name != "external-postgresql" else set())
    )
    assert set(protected) == expected
    for component, policy in protected.items():
        [rule] = policy["spec"]["ingress"]
        peers = rule["from"]
        if (
            component == "prefect-server"
        ):  # unauthenticated, and it can start flow runs as the controller: no trial
            assert peers[0]["podSelector"]["matchExpressions"] == [
                {
                    "key": "app.kubernetes.io/component",
                    "operator": "In",
                    "values": ["prefect-worker", "flow-run", "retrain"],
                }
            ]
        else:
            assert peers[0] == {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "kubetune"}}
            }
        extra = peers[1:]
        if component in ("postgresql", "minio") or name != "auth-on":
            assert extra == [], component  # the data stores never admit anything else
        else:
            assert extra == VALUE_SETS["auth-on"]["networkPolicy"]["uiFrom"]
    # every pod that must reach them carries the admitted label
    for pod_name, _pod in pod_specs(objects):
        workload = next(o for o in objects if o["metadata"]["name"] == pod_name)
        template = (
            workload.get("spec", {}).get("template")
            or workload.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template")
            or workload
        )
        assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "kubetune", pod_name


def test_defaults_bundle_postgresql_mlflow_and_prefect_with_the_given_password():
    objects, manifests = render({})
    statefulset = by_kind(objects, "StatefulSet")["kt-kubetune-postgresql"]
    assert statefulset["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 70
    secret = by_kind(objects, "Secret")["kt-kubetune-db"]
    password = base64.b64decode(secret["data"]["password"]).decode()
    study_url = base64.b64decode(secret["data"]["study-url"]).decode()
    assert (
        password == DB_PASSWORD
        and study_url
        == f"postgresql+psycopg://kubetune:{password}@kt-kubetune-postgresql:5432/kubetune"
    )
    mlflow = by_kind(objects, "Deployment")["kt-kubetune-mlflow"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    env = env_of(mlflow)
    assert (
        env["MLFLOW_BACKEND_STORE_URI"]["value"]
        == "postgresql+psycopg://kubetune:$(DB_PASSWORD)@kt-kubetune-postgresql:5432/mlflow"
    )
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "kt-kubetune-db",
        "key": "password",
    }
    assert "--artifacts-destination=s3://kubetune/mlflow" in mlflow["args"]
    assert "kt-kubetune-prefect" in by_kind(
        objects, "Deployment"
    ) and "kt-kubetune-prefect-worker" in by_kind(objects, "Deployment")
    assert "CronJob" not in {o["kind"] for o in objects}  # scheduled retraining is opt-in
    notes = manifests["kubetune/templates/NOTES.txt"]
    assert (
        "http://kt-kubetune-mlflow:5000" in notes
        and "kt-kubetune-db" in notes
        and password not in notes
    )


def test_external_postgresql_and_prefect_replace_the_bundled_ones():
    objects, _ = render(VALUE_SETS["external-postgresql"])
    assert "StatefulSet" not in {o["kind"] for o in objects}
    assert "kt-kubetune-db" not in by_kind(
        objects, "Secret"
    )  # the platform's Secret is used as it is
    deployments = by_kind(objects, "Deployment")
    assert "kt-kubetune-prefect" not in deployments
    mlflow = env_of(deployments["kt-kubetune-mlflow"]["spec"]["template"]["spec"]["containers"][0])
    assert (
        mlflow["MLFLOW_BACKEND_STORE_URI"]["value"]
        == "postgresql+psycopg://kubetune:$(DB_PASSWORD)@pg.internal.example:6432/mlflow"
    )
    assert mlflow["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "platform-pg"
    worker = env_of(
        deployments["kt-kubetune-prefect-worker"]["spec"]["template"]["spec"]["containers"][0]
    )
    assert worker["PREFECT_API_URL"]["value"].startswith("https://prefect.example/")
    assert worker["PREFECT_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "prefect-cloud",
        "key": "api-key",
    }
    spec = parse_spec(
        yaml.safe_load(
            by_kind(objects, "ConfigMap")["kt-kubetune-retrain-spec"]["data"]["spec.yaml"]
        )
    )
    assert spec.executor.kubernetes.secretEnv["KUBETUNE_STORAGE_URL"].name == "platform-pg"


def test_gpu_trial_defaults_reach_the_retrain_spec_and_its_trial_jobs():
    import kubernetes_validate

    from kubetune.components.core import TrialRequest
    from kubetune.components.execution import render_job

    objects, _ = render(VALUE_SETS["gpu-trials"])
    spec = parse_spec(
        yaml.safe_load(
            by_kind(objects, "ConfigMap")["kt-kubetune-retrain-spec"]["data"]["spec.yaml"]
        )
    )
    k8s = spec.executor.kubernetes
    assert (
        spec.executor.kind == "kubernetes"
        and k8s.namespace == NAMESPACE
        and k8s.image.endswith("-cuda")
    )
    assert k8s.resources["limits"]["nvidia.com/gpu"] == 2 and k8s.nodeSelector == {
        "nvidia.com/gpu.present": "true"
    }
    assert k8s.tolerations == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert k8s.serviceAccountName == "kt-kubetune-trial"
    assert (
        spec.tracking.mlflow_uri == "http://kt-kubetune-mlflow:5000"
        and spec.artifacts.uri == "s3://kubetune/kubetune"
    )
    request = TrialRequest(
        study_name=spec.study_name,
        trial_number=0,
        params={},
        family=spec.model.family,
        task="classification",
        n_classes=2,
        data_uri="s3://kubetune/x.parquet",
        target="target",
        metrics=["roc_auc"],
        validation="stratified_kfold",
        folds=5,
        val_size=0.2,
        seed=42,
    )
    job = render_job(k8s, request)
    kubernetes_validate.validate(job, "1.37", strict=True)
    assert (
        job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]
        == "2"
    )
    # packing from the chart's values: a group's Job asks for one trial's GPUs, whatever its size
    assert spec.executor.packing.trials == 16 and spec.executor.packing.mode == "processes"
    group = [request.model_copy(update={"trial_number": n}) for n in range(16)]
    packed = render_job(k8s, request, group=group)
    kubernetes_validate.validate(packed, "1.37", strict=True)
    assert (
        packed["spec"]["template"]["spec"]["containers"][0]["resources"]
        == (job["spec"]["template"]["spec"]["containers"][0]["resources"])
    )
    assert packed["metadata"]["annotations"]["kubetune.io/members"] == ",".join(map(str, range(16)))
    cron = by_kind(objects, "CronJob")["kt-kubetune-retrain"]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert (
        pod["serviceAccountName"] == "kt-kubetune-controller"
        and cron["spec"]["concurrencyPolicy"] == "Forbid"
    )
    assert pod["containers"][0]["args"] == [
        "retrain",
        "/etc/kubetune/spec.yaml",
        "--margin",
        "0.005",
        "--alias",
        "champion",
    ]


def test_auth_on_runs_mlflow_basic_auth_with_the_admin_password_from_a_secret():
    objects, _ = render(VALUE_SETS["auth-on"])
    mlflow = by_kind(objects, "Deployment")["kt-kubetune-mlflow"]["spec"]["template"]["spec"]
    container = mlflow["containers"][0]
    assert (
        "--app-name basic-auth" in container["args"][0]
        and "mlflow.example.com" in container["args"][0]
    )
    env = env_of(container)
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "platform-mlflow-auth",
        "key": "password",
    }
    assert (
        env["MLFLOW_FLASK_SERVER_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"]
        == "platform-mlflow-auth"
    )
    assert [c["name"] for c in mlflow["initContainers"]] == [
        "create-bucket"
    ]  # MinIO on: the bucket is made first
    retrain = env_of(
        by_kind(objects, "CronJob")["kt-kubetune-retrain"]["spec"]["jobTemplate"]["spec"][
            "template"
        ]["spec"]["containers"][0]
    )
    assert (
        retrain["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
        == "platform-mlflow-auth"
    )
    assert retrain["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "platform-s3",
        "key": "secret-access-key",
    }
    assert retrain["KUBETUNE_S3_ENDPOINT_URL"]["value"] == "http://kt-kubetune-minio:9000"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mlflow": {"replica": 2}}, "additional properties 'replica' not allowed"),
        ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
        ({"retrain": {"margin": -1}}, "margin"),
        (
            {"retrain": {"spec": {"data": {}, "model": {}, "objective": {}, "executor": {}}}},
            "additional properties 'executor' not allowed",
        ),
        (
            {"postgresql": {"enabled": False}, "externalDatabase": {"password": "x1"}},
            "externalDatabase.host is required",
        ),
        ({"postgresql": {"auth": {"password": "p@ss/word"}}}, "password"),
        # a database name is written into the PostgreSQL init script's SQL
        ({"databases": {"studies": 'x";DROP DATABASE mlflow;--'}}, "/databases/studies"),
        ({"databases": {"mlflow": "Upper"}}, "/databases/mlflow"),
        ({"retrain": {"cronJob": {"schedule": "every monday"}}}, "/retrain/cronJob/schedule"),
        ({"retrain": {"cronJob": {"schedule": "0 25 * * 1"}}}, "/retrain/cronJob/schedule"),
        (
            {"retrain": {"cronJob": {"schedule": "CRON_TZ=UTC 0 3 * * 1"}}},
            "/retrain/cronJob/schedule",
        ),
        ({"trials": {"resources": {"limits": {"memory": "1..5Gi"}}}}, "memory"),
        ({"postgresql": {"persistence": {"size": "ten gigs"}}}, "/persistence/size"),
        ({"image": {"repository": ""}}, "/image/repository"),
        ({"trials": {"image": ""}}, "/trials/image"),
        ({"prefect": {"image": {"repository": "Not A Repo"}}}, "/prefect/image/repository"),
        ({"fullnameOverride": "Bad_Name"}, "/fullnameOverride"),
        ({"trials": {"tolerations": [{"key": "gpu", "operator": "Exsts"}]}}, "/trials/tolerations"),
        (
            {"trials": {"tolerations": [{"key": "gpu", "operator": "Exists", "value": "x"}]}},
            "/trials/tolerations",
        ),
        (
            {
                "trials": {
                    "tolerations": [{"key": "gpu", "effect": "NoSchedule", "tolerationSeconds": 5}]
                }
            },
            "/trials/tolerations",
        ),
        (
            {"trials": {"tolerations": [{"keys": "gpu"}]}},
            "additional properties 'keys' not allowed",
        ),
        ({"trials": {"nodeSelector": {"pool": "gpu nodes"}}}, "/trials/nodeSelector"),
        ({"s3": {"endpointUrl": "ftp://minio:9000"}}, "/s3/endpointUrl"),
        ({"imagePullSecrets": ["Bad_Secret"]}, "/imagePullSecrets"),
    ],
)
def test_bad_values_fail_the_render_with_a_message_naming_them(values, message):
    with pytest.raises(helm_python.HelmError, match=re.escape(message)):
        render(values)


@pytest.mark.parametrize(
    "schedule",
    [
        "0 3 * * 1",
        "*/15 * * * *",
        "0 0 1,15 * *",
        "30 2 * JAN-MAR MON-FRI",
        "@weekly",
        "0 22 * * 1-5",
    ],
)
def test_valid_cron_schedules_render(schedule):
    objects, _ = render({"retrain": {"cronJob": {"enabled": True, "schedule": schedule}}})
    assert by_kind(objects, "CronJob")["kt-kubetune-retrain"]["spec"]["schedule"] == schedule


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {},
            "set postgresql.auth.existingSecret (keys password, study-url) or postgresql.auth.password",
        ),
        (
            {"postgresql": {"enabled": False}, "externalDatabase": {"host": "pg"}},
            "set externalDatabase.existingSecret",
        ),
        (
            {"postgresql": {"auth": {"password": "x1"}}, "minio": {"enabled": True}},
            "minio.enabled needs s3.existingSecret",
        ),
        (
            {
                "postgresql": {"auth": {"password": "x1"}},
                "minio": {"enabled": True},
                "s3": {"existingSecret": "s3"},
            },
            "minio.enabled needs minio.image.repository and minio.image.tag",
        ),
        (
            {"postgresql": {"auth": {"password": "x1"}}, "mlflow": {"auth": {"enabled": True}}},
            "mlflow.auth.enabled needs mlflow.auth.existingSecret",
        ),
    ],
)
def test_a_missing_credential_is_one_line_naming_the_values_to_set(values, message):
    with pytest.raises(helm_python.HelmError, match=re.escape(message)):
        render(values, credentials=False)


def test_offline_renders_are_identical_so_argo_cd_sees_no_drift():
    """No credential is generated at render time: `helm template` twice (what Argo CD and Flux do on every
    sync) gives the same Secrets, so PostgreSQL's password never drifts from the one it started with."""
    for values in VALUE_SETS.values():
        assert render(values)[1] == render(values)[1]


def test_every_value_has_a_helm_docs_comment():
    """helm-docs documents a key from its `# --` comment; a key without one (or an ancestor with one) is undocumented."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented, stack = [], []  # stack of (indent, documented)
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z0-9_.-]+):", line)
        if not match or line.lstrip().startswith("#"):
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        above = number - 1
        comment = []
        while above >= 0 and lines[above].strip().startswith("#"):
            comment.append(lines[above].strip())
            above -= 1
        documented = any(c.startswith("# --") for c in comment)
        inherited = any(doc for _, doc in stack)
        is_section = not line.split(":", 1)[1].strip()
        if not (documented or inherited or is_section):
            undocumented.append(f"{number + 1}: {line.strip()}")
        stack.append((indent, documented))
    assert undocumented == []


def test_schema_forbids_unknown_keys_at_every_level():
    schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(node, path):
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, path or "<root>"
            for key, child in node["properties"].items():
                walk(child, f"{path}.{key}")

    walk(schema, "")
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def covered(node, value, path):  # every default value is described by the schema
        if isinstance(value, dict) and "properties" in node:
            for key, child in value.items():
                assert key in node["properties"], f"{path}.{key} missing from the schema"
                covered(node["properties"][key], child, f"{path}.{key}")

    covered(schema, values, "")


def dockerfile_config(path):
    """ENTRYPOINT and CMD as the Dockerfile declares them (the JSON forms kubetune's Dockerfiles use)."""
    from tests.k8s.container_runtime import ImageConfig

    entrypoint, cmd = [], []
    for line in path.read_text().splitlines():
        if line.startswith("ENTRYPOINT "):
            entrypoint = json.loads(line.split(" ", 1)[1])
        elif line.startswith("CMD "):
            cmd = json.loads(line.split(" ", 1)[1])
    return ImageConfig(entrypoint, cmd, {}, "/", "")


def test_prefect_flow_runs_get_a_secure_job_that_runs_prefect_in_the_controller_image(
    prefect_api, monkeypatch
):
    """The work pool's base job template, turned into a Job by prefect-kubernetes itself (the worker's
    configuration class and its prepare_for_flow_run), gives a strictly valid Job that runs as the
    controller, non-root, with secrets by reference -- and whose container, resolved against the controller
    Dockerfile's ENTRYPOINT and CMD as a container runtime resolves it, runs `prefect flow-run execute`
    (with an ENTRYPOINT of `kubetune` it ran `kubetune prefect flow-run execute`: exit 2)."""
    import asyncio
    import uuid

    from prefect.client.schemas.objects import FlowRun
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    from tests.k8s.container_runtime import resolve_argv

    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    objects, _ = render(
        VALUE_SETS["auth-on"], name="kubetune"
    )  # the release prefect.yaml is written for
    template = json.loads(
        by_kind(objects, "ConfigMap")["kubetune-prefect-job-template"]["data"][
            "base-job-template.json"
        ]
    )
    prefect_yaml = yaml.safe_load((CHART.parents[1] / "prefect.yaml").read_text())
    [deployment] = [d for d in prefect_yaml["deployments"] if d["name"] == "weekly-retrain"]
    configuration = asyncio.run(
        KubernetesWorkerJobConfiguration.from_template_and_values(
            template, deployment["work_pool"]["job_variables"]
        )
    )
    configuration.prepare_for_flow_run(
        FlowRun(id=uuid.uuid4(), name="retrain-run", flow_id=uuid.uuid4())
    )
    job = configuration.job_manifest
    job["metadata"]["name"] = (
        job["metadata"].pop("generateName") + "x1"
    )  # the API server's generateName
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert resolve_argv(
        dockerfile_config(CHART.parents[1] / "infra" / "Dockerfile.controller"), container
    ) == ["prefect", "flow-run", "execute"]
    assert job["spec"]["ttlSecondsAfterFinished"] == 86400  # finished flow-run Jobs do not pile up
    assert {"KUBETUNE_WORKDIR", "HOME", "PREFECT__FLOW_RUN_ID"} <= set(env_of(container))
    validate_all([job])
    pod = job["spec"]["template"]["spec"]
    assert (
        pod["serviceAccountName"] == "kubetune-controller"
        and job["metadata"]["namespace"] == deployment["work_pool"]["job_variables"]["namespace"]
    )
    assert (
        job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "kubetune"
    )  # admitted by the NetworkPolicies
    assert pod["containers"][0]["image"] == "kubetune-controller:0.1.0"
    assert assert_secure_pods([job], token_allowed={"kubetune-controller"}) == 1
    assert_no_plain_credentials([job])
    env = env_of(pod["containers"][0])
    assert env["KUBETUNE_STORAGE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "kubetune-db",
        "key": "study-url",
    }
    assert (
        env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
        == "platform-mlflow-auth"
    )
    worker = by_kind(objects, "Deployment")["kubetune-prefect-worker"]["spec"]["template"]["spec"]
    assert (
        "--base-job-template /etc/kubetune/base-job-template.json"
        in worker["containers"][0]["args"][0]
    )
    assert worker["volumes"][1]["configMap"]["name"] == "kubetune-prefect-job-template"


def test_the_worker_command_registers_the_work_pool_on_a_real_prefect_server(prefect_api, tmp_path):
    """What the worker container runs first, against a real Prefect server, twice (a restarted worker
    overwrites the pool): the server accepts the template and keeps kubetune's defaults."""
    import asyncio
    import os
    import subprocess

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests.conftest import VENV_BIN

    objects, _ = render({})
    (tmp_path / "base-job-template.json").write_text(
        by_kind(objects, "ConfigMap")["kt-kubetune-prefect-job-template"]["data"][
            "base-job-template.json"
        ]
    )
    worker = by_kind(objects, "Deployment")["kt-kubetune-prefect-worker"]["spec"]["template"][
        "spec"
    ]["containers"][0]
    register = worker["args"][0].split("&&")[0].replace("/etc/kubetune/", f"{tmp_path}/")
    pool = f"pool-{tmp_path.name[-8:]}".lower().replace("_", "-")
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(tmp_path / "home"),
        "POOL": pool,
    }
    for _ in range(2):
        result = subprocess.run(
            ["sh", "-c", register], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr

    async def read_pool():
        async with get_client() as client:
            return await client.read_work_pool(pool)

    with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
        stored = asyncio.run(read_pool())
    assert stored.type == "kubernetes"
    variables = stored.base_job_template["variables"]["properties"]
    assert variables["service_account_name"]["default"] == "kt-kubetune-controller"
    assert variables["namespace"]["default"] == NAMESPACE
    container = stored.base_job_template["job_configuration"]["job_manifest"]["spec"]["template"][
        "spec"
    ]["containers"][0]
    assert container["env"][0] == {
        "name": "KUBETUNE_STORAGE_URL",
        "valueFrom": {"secretKeyRef": {"name": "kt-kubetune-db", "key": "study-url"}},
    }
