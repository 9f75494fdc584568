"""The kustomize base in k8s/: every object validates strictly, and the controller's RBAC is least privilege."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

BASE = Path(__file__).resolve().parents[2] / "k8s" / "base"


def objects():
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    return [
        doc
        for name in kustomization["resources"]
        for doc in yaml.safe_load_all((BASE / name).read_text())
        if doc
    ]


@pytest.mark.parametrize("version", ["1.30", "1.37"])
def test_every_object_validates_strictly(version):
    for obj in objects():
        kubernetes_validate.validate(obj, version, strict=True)


def test_controller_rbac_is_namespaced_and_minimal():
    kinds = {obj["kind"] for obj in objects()}
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    [role] = [o for o in objects() if o["kind"] == "Role"]
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        ("batch", "jobs", v) for v in ("create", "get", "list", "watch", "delete")
    } | {("", "pods", v) for v in ("get", "list", "watch")} | {("", "pods/log", "get")}


def test_trial_template_matches_the_renderer_policies():
    from kubetune.components.core import TrialRequest
    from kubetune.components.execution import render_job
    from kubetune.components.spec import KubernetesSpec

    [job] = [o for o in objects() if o["kind"] == "Job"]
    request = TrialRequest(
        study_name="s",
        trial_number=0,
        params={},
        family="knn",
        task="classification",
        n_classes=2,
        data_uri="x",
        target="t",
        metrics=["accuracy"],
        validation="kfold",
        folds=2,
        val_size=0.2,
        seed=0,
    )
    rendered = render_job(KubernetesSpec(), request)
    assert job["spec"]["podFailurePolicy"] == rendered["spec"]["podFailurePolicy"]
    pod, rendered_pod = job["spec"]["template"]["spec"], rendered["spec"]["template"]["spec"]
    assert pod["securityContext"] == rendered_pod["securityContext"]
    assert (
        pod["containers"][0]["securityContext"] == rendered_pod["containers"][0]["securityContext"]
    )
