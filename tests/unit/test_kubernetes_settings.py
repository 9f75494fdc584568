"""The executor.kubernetes checks that run when the spec is read, before anything is recorded: each case is
one the API server would refuse (or, for an unknown field, silently drop) only when the first Job is created."""

import pytest

from kubetune.components.core import SpecError
from kubetune.components.spec import KubernetesSpec, kubernetes_settings as k8s, parse_spec

BASE = {
    "data": {"source": "sklearn:iris", "target": "target"},
    "model": {"family": "knn"},
    "objective": {"metric": "accuracy"},
}


def spec_error(**kubernetes):
    with pytest.raises(SpecError) as caught:
        parse_spec({**BASE, "executor": {"kind": "kubernetes", "kubernetes": kubernetes}})
    return str(caught.value)


@pytest.mark.parametrize(
    "resources, where, words",
    [
        ({"limits": {"memory": "16GB"}}, "limits.memory", "'16GB' is not a Kubernetes quantity"),
        ({"requests": {"cpu": "two"}}, "requests.cpu", "not a Kubernetes quantity"),
        ({"requests": {"cpus": "2"}}, "requests.cpus", "unknown resource 'cpus'"),
        (
            {"requests": {"memory": "32Gi"}, "limits": {"memory": "16Gi"}},
            "requests.memory",
            "'32Gi' is more than the limit '16Gi'",
        ),
        (
            {"requests": {"nvidia.com/gpu": 1}},
            "limits.nvidia.com/gpu",
            "needs a limit equal to its request",
        ),
        (
            {"requests": {"nvidia.com/gpu": 2}, "limits": {"nvidia.com/gpu": 1}},
            "requests.nvidia.com/gpu",
            "more than the limit",
        ),
        ({"limits": {"nvidia.com/gpu": 0.5}}, "limits.nvidia.com/gpu", "whole units"),
        ({"requests": {"cpu": -1}}, "requests.cpu", "negative"),
    ],
)
def test_resources_the_api_server_would_refuse(resources, where, words):
    message = spec_error(resources=resources)
    assert message.startswith(f"executor.kubernetes.resources.{where}: ") and words in message


def test_resources_as_users_write_them_pass_and_a_float_cpu_becomes_a_quantity_string():
    settings = KubernetesSpec(
        resources={
            "requests": {"cpu": 1.5, "memory": "8Gi", "nvidia.com/gpu": 1},
            "limits": {"memory": "16Gi", "nvidia.com/gpu": 1, "ephemeral-storage": "20Gi"},
        }
    )
    assert settings.resources["requests"]["cpu"] == "1.5"
    assert (
        k8s.resources_problem(
            {
                "requests": {"cpu": "500m", "memory": "512Mi"},
                "limits": {"cpu": "1", "hugepages-2Mi": "1Gi"},
            }
        )
        is None
    )


@pytest.mark.parametrize(
    "tolerations, expected",
    [
        (
            [{"key": "nvidia.com/gpu", "opertor": "Exists"}],
            "tolerations.0.opertor: unknown field (did you mean 'operator'?)",
        ),
        (
            [{"key": "gpu", "operator": "Exist"}],
            "tolerations.0.operator: 'Exist' is not Exists or Equal",
        ),
        (
            [{"key": "gpu", "operator": "Exists", "effect": "NoShedule"}],
            "tolerations.0.effect: 'NoShedule' is not NoSchedule",
        ),
        (
            [{"key": "gpu", "operator": "Exists", "value": "true"}],
            "tolerations.0.value: a toleration with operator Exists takes no value",
        ),
        (
            [{"operator": "Equal", "value": "x"}],
            "tolerations.0.operator: a toleration without a key must use operator Exists",
        ),
        (
            [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 30}],
            "tolerations.0.tolerationSeconds",
        ),
        (
            [{"key": "gpu", "tolerationSeconds": "soon", "effect": "NoExecute"}],
            "tolerations.0.tolerationSeconds: should be a number, got 'soon'",
        ),
    ],
)
def test_tolerations_are_read_against_the_client_models_and_the_api_servers_rules(
    tolerations, expected
):
    assert spec_error(tolerations=tolerations).startswith(f"executor.kubernetes.{expected}")


def test_affinity_typos_are_named_with_their_path():
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operater": "In", "values": ["gpu"]}]}
                ]
            }
        }
    }
    assert spec_error(affinity=affinity) == (
        "executor.kubernetes.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.0"
        ".matchExpressions.0.operater: unknown field (did you mean 'operator'?)"
    )
    affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][
        0
    ]["matchExpressions"][0] = {"key": "pool", "operator": "In", "values": ["gpu"]}
    assert KubernetesSpec(affinity=affinity).affinity == affinity


@pytest.mark.parametrize(
    "settings, expected",
    [
        (
            {"namespace": "ML_Team"},
            "executor.kubernetes.namespace: 'ML_Team' is not a valid Kubernetes name",
        ),
        ({"namespace": "a" * 64}, "executor.kubernetes.namespace:"),
        ({"image": ""}, "executor.kubernetes.image: '' is not an image reference"),
        (
            {"image": "trial image:1"},
            "executor.kubernetes.image: 'trial image:1' is not an image reference",
        ),
        (
            {"serviceAccountName": "Trials"},
            "executor.kubernetes.serviceAccountName: 'Trials' is not a valid Kubernetes name",
        ),
        ({"priorityClassName": "batch low"}, "executor.kubernetes.priorityClassName:"),
        (
            {"imagePullSecrets": ["ok", "Reg_Cred"]},
            "executor.kubernetes.imagePullSecrets.1: 'Reg_Cred'",
        ),
        (
            {"nodeSelector": {"nvidia.com/gpu.present": "yes please"}},
            "executor.kubernetes.nodeSelector.nvidia.com/gpu.present: 'yes please' is not a valid label value",
        ),
        (
            {"nodeSelector": {"-pool": "gpu"}},
            "executor.kubernetes.nodeSelector.-pool: '-pool' is not a valid Kubernetes key",
        ),
        (
            {"env": {"1ST": "x"}},
            "executor.kubernetes.env.1ST: '1ST' is not a valid environment variable name",
        ),
        (
            {"secretEnv": {"DB URL": {"name": "db", "key": "url"}}},
            "executor.kubernetes.secretEnv.DB URL:",
        ),
        (
            {"secretEnv": {"DB_URL": {"name": "study_db", "key": "url"}}},
            "executor.kubernetes.secretEnv.DB_URL.name: 'study_db'",
        ),
        (
            {"secretEnv": {"DB_URL": {"name": "db", "key": "the url"}}},
            "executor.kubernetes.secretEnv.DB_URL.key: 'the url' is not a valid Secret key",
        ),
    ],
)
def test_names_the_api_server_would_refuse(settings, expected):
    assert spec_error(**settings).startswith(expected)


def test_the_example_settings_pass():
    from pathlib import Path

    import yaml

    example = yaml.safe_load(
        (
            Path(__file__).resolve().parents[2] / "examples" / "breast_cancer_k8s_gpu.yaml"
        ).read_text()
    )
    assert parse_spec(example).executor.kubernetes.resources["limits"]["nvidia.com/gpu"] == 1
