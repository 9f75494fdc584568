"""What every deployable object of kubetune must satisfy, whether Helm or kustomize rendered it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

NEWEST_SCHEMA = 37  # the newest Kubernetes minor kubernetes-validate ships schemas for


def supported_versions() -> tuple[str, ...]:
    """Every Kubernetes minor from the chart's declared kubeVersion floor to the newest schema: what the chart
    says it supports is what is checked (1.25-1.28 require onPodConditions in every podFailurePolicy rule)."""
    chart = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "helm" / "kubetune" / "Chart.yaml").read_text()
    )
    floor = int(re.match(r">=\s*1\.(\d+)", chart["kubeVersion"]).group(1))
    return tuple(f"1.{minor}" for minor in range(floor, NEWEST_SCHEMA + 1))


KUBE_VERSIONS = supported_versions()
WORKLOADS = {"Deployment", "StatefulSet", "Job", "CronJob", "Pod"}
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def validate_all(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind == "Pod":
            yield name, obj["spec"]
        elif kind == "CronJob":
            yield name, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif kind in WORKLOADS:
            yield name, obj["spec"]["template"]["spec"]


def assert_secure_pods(objects: list[dict[str, Any]], token_allowed: set[str]) -> int:
    """Non-root, read-only root filesystem, no privilege escalation, all capabilities dropped, no host
    access; an API token only in the pods listed in ``token_allowed`` (service-account names)."""
    checked = 0
    for name, pod in pod_specs(objects):
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] > 0, name
        assert context["seccompProfile"]["type"] == "RuntimeDefault", name
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), (
            name
        )
        # Pod Security Standards, restricted profile: only these volume types, no host ports or sysctls
        for volume in pod.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= RESTRICTED_VOLUMES, f"{name}: volume {volume['name']} is {kinds}"
        assert not context.get("sysctls"), name
        if pod.get("serviceAccountName") not in token_allowed:
            assert pod.get("automountServiceAccountToken") is False, f"{name} mounts an API token"
        for container in pod["containers"] + pod.get("initContainers", []):
            sc = container["securityContext"]
            where = f"{name}/{container['name']}"
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["runAsNonRoot"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), (
                where
            )
            assert not sc.get("privileged"), where
            assert not any(port.get("hostPort") for port in container.get("ports", [])), (
                f"{where} uses a host port"
            )
            assert "resources" in container and container["resources"].get("limits", {}).get(
                "memory"
            ), f"{where} has no memory limit"
            checked += 1
    return checked


def assert_services_are_probed(objects: list[dict[str, Any]]) -> None:
    """Every long-running container (a Deployment's or StatefulSet's) has liveness and readiness probes."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            for container in obj["spec"]["template"]["spec"]["containers"]:
                where = f"{obj['metadata']['name']}/{container['name']}"
                assert "livenessProbe" in container and "readinessProbe" in container, (
                    f"{where} has no liveness/readiness probe"
                )


def assert_no_plain_credentials(objects: list[dict[str, Any]]) -> None:
    """Credentials reach containers only through secretKeyRef: no env value holds one."""
    for name, pod in pod_specs(objects):
        for container in pod["containers"] + pod.get("initContainers", []):
            for env in container.get("env", []):
                if any(
                    word in env["name"].upper()
                    for word in ("PASSWORD", "SECRET", "ACCESS_KEY", "TOKEN", "API_KEY")
                ):
                    assert "valueFrom" in env and "secretKeyRef" in env["valueFrom"], (
                        f"{name}/{container['name']}: {env['name']}"
                    )
                value = env.get("value", "")
                assert not ("://" in value and "@" in value and "$(" not in value), (
                    f"{name}: {env['name']} holds a URL with credentials"
                )


def granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


CONTROLLER_GRANTS = (
    {("batch", "jobs", v) for v in ("create", "get", "list", "watch", "delete")}
    | {("", "pods", v) for v in ("get", "list", "watch")}
    | {("", "pods/log", "get")}
)


def assert_least_privilege(objects: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}, "no cluster-wide RBAC"
    for role in (o for o in objects if o["kind"] == "Role"):
        grants = granted(role)
        assert not any("*" in grant for grant in grants), role["metadata"]["name"]
        assert not any(
            resource in ("secrets", "roles", "rolebindings", "pods/exec")
            for _, resource, _ in grants
        ), role["metadata"]["name"]
