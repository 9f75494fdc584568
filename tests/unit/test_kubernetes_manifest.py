import json

import kubernetes_validate
import pytest

from kubetune.components.core import TrialRequest
from kubetune.components.execution.kubernetes_manifest import (
    job_name,
    render_job,
    selector,
    study_label,
)
from kubetune.components.spec import KubernetesSpec

REQUEST = TrialRequest(
    study_name="Breast Cancer / RF (nightly)",
    trial_number=12,
    params={"max_depth": 7},
    family="random_forest",
    task="classification",
    n_classes=2,
    data_uri="s3://ml/kubetune/train.parquet",
    target="target",
    metrics=["roc_auc"],
    validation="stratified_kfold",
    folds=5,
    val_size=0.2,
    seed=42,
    trial_id=99,
)
SETTINGS = [
    KubernetesSpec(),
    KubernetesSpec(
        namespace="ml",
        image="trial:cuda",
        resources={
            "requests": {"cpu": "4", "memory": "16Gi"},
            "limits": {"nvidia.com/gpu": 1, "memory": "32Gi"},
        },
        nodeSelector={"nvidia.com/gpu.product": "A100"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["gpu"]}]}
                    ]
                }
            }
        },
        priorityClassName="batch-low",
        serviceAccountName="trials",
        imagePullSecrets=["regcred"],
        env={"MLFLOW_TRACKING_URI": "http://mlflow:5000"},
        secretEnv={
            "KUBETUNE_STORAGE_URL": {"name": "db", "key": "url"},
            "AWS_SECRET_ACCESS_KEY": {"name": "s3", "key": "secret"},
        },
    ),
]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("version", ["1.30", "1.37"])
def test_job_validates_strictly_against_official_schemas(settings, version):
    job = render_job(settings, REQUEST, trial_timeout=900)
    assert kubernetes_validate.validate(job, version, strict=True) == version


def test_job_shape_and_policies():
    job = render_job(SETTINGS[1], REQUEST, trial_timeout=900)
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert (
        job["metadata"]["name"] == job_name(REQUEST.study_name, 12)
        and len(job["metadata"]["name"]) <= 63
    )
    assert job["metadata"]["labels"]["kubetune.io/trial"] == "12"
    assert job["metadata"]["labels"]["kubetune.io/study"] == study_label(REQUEST.study_name)
    assert selector(REQUEST.study_name).endswith(study_label(REQUEST.study_name))
    assert (
        spec["backoffLimit"] == 0
        and spec["activeDeadlineSeconds"] == 900
        and spec["ttlSecondsAfterFinished"] == 600
    )
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0]["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]
    assert rules[1]["onExitCodes"]["operator"] == "NotIn"
    assert pod["restartPolicy"] == "Never" and pod["nodeSelector"] == {
        "nvidia.com/gpu.product": "A100"
    }
    assert pod["priorityClassName"] == "batch-low" and pod["imagePullSecrets"] == [
        {"name": "regcred"}
    ]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_pods_are_non_root_and_locked_down():
    pod = render_job(KubernetesSpec(), REQUEST)["spec"]["template"]["spec"]
    assert (
        pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    )
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]["securityContext"]
    assert container == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def test_credentials_reach_the_pod_only_by_secret_key_ref():
    job = render_job(SETTINGS[1], REQUEST.model_copy(update={"storage_url": None}))
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KUBETUNE_STORAGE_URL"] == {
        "name": "KUBETUNE_STORAGE_URL",
        "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}},
    }
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "s3",
        "key": "secret",
    }
    request = json.loads(env["KUBETUNE_TRIAL_REQUEST"]["value"])
    assert request["storage_url"] is None and request["params"] == {"max_depth": 7}


def test_credentials_in_plain_env_are_refused():
    from kubetune.components.core import SpecError
    from kubetune.components.spec import parse_spec

    with pytest.raises(
        SpecError,
        match="executor.kubernetes.env: Value error, 'DB_PASSWORD' looks like a credential|executor.kubernetes.env: 'DB_PASSWORD' looks like a credential",
    ):
        parse_spec(
            {
                "data": {"source": "x.csv"},
                "model": {"family": "knn"},
                "objective": {"metric": "accuracy"},
                "executor": {
                    "kind": "kubernetes",
                    "kubernetes": {"env": {"DB_PASSWORD": "hunter2"}},
                },
            }
        )


def test_a_search_cv_batch_gets_the_same_pod_under_its_own_variable():
    """KubetuneSearchCV's Jobs: the trial pod's security and settings, the CallRequest in
    KUBETUNE_CALL_REQUEST (no trial request), nothing secret in the manifest, valid for Kubernetes."""
    from kubetune.components.core import CallRequest

    call = CallRequest(
        study_name="search-cv-1a2b",
        trial_number=3,
        call_uri="s3://ml/search-cv/batch-00003.pkl",
        output_uri="s3://ml/search-cv/batch-00003.out.pkl",
    )
    job = render_job(SETTINGS[1], call)
    kubernetes_validate.validate(job, "1.29", strict=True)
    [container] = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert "KUBETUNE_TRIAL_REQUEST" not in env
    assert CallRequest.model_validate_json(env["KUBETUNE_CALL_REQUEST"]["value"]) == call
    assert container["command"] == ["kubetune-trial"]
    assert job["metadata"]["name"] == job_name("search-cv-1a2b", 3)
    trial_job = render_job(SETTINGS[1], REQUEST)
    assert (
        job["spec"]["template"]["spec"]["securityContext"]
        == trial_job["spec"]["template"]["spec"]["securityContext"]
    )
    assert (
        container["securityContext"]
        == trial_job["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    )
