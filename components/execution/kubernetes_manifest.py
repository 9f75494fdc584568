"""The Job a trial runs as: a pure function of the executor settings and the trial request.

Pure so that ``kubetune tune --dry-run`` can print it, tests can validate it against the official
schemas, and the executor class that talks to the API server stays thin (as prefect-kubernetes keeps
its job configuration apart from its worker). Credentials reach the pod only through secretKeyRef.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import TypeAdapter

from kubetune.components.core import (
    ANNOTATION_MEMBERS,
    ANNOTATION_STUDY,
    LABEL_STUDY,
    LABEL_TRIAL,
    CallRequest,
    TrialRequest,
)
from kubetune.components.spec import KubernetesSpec

CONTAINER = "trial"
LABEL_APP = "app.kubernetes.io/name"
LABEL_COMPONENT = "app.kubernetes.io/component"
REQUEST_ENV = "KUBETUNE_TRIAL_REQUEST"
CALL_ENV = "KUBETUNE_CALL_REQUEST"  # a KubetuneSearchCV batch instead of a trial
GROUP_ENV = "KUBETUNE_TRIAL_GROUP"  # a packed group's requests (executor.packing) instead of one
GROUP_REQUESTS = TypeAdapter(list[TrialRequest])
TRIAL_ERROR_EXIT = 3  # the entrypoint's exit code when the trial itself failed (vs. infrastructure)
RUN_AS_USER = 10001


def study_label(study_name: str) -> str:
    """A label value (<= 63 chars, DNS-safe) that stays unique for long or similar study names."""
    slug = re.sub(r"[^a-z0-9-]+", "-", study_name.lower()).strip("-")[:40] or "study"
    return f"{slug}-{hashlib.sha256(study_name.encode()).hexdigest()[:8]}"


def job_name(study_name: str, trial_number: int) -> str:
    return f"kt-{study_label(study_name)}-t{trial_number}"[:63].rstrip("-")


def selector(study_name: str) -> str:
    """The label selector for every Job and pod of one study."""
    return f"{LABEL_APP}=kubetune,{LABEL_STUDY}={study_label(study_name)}"


def render_job(
    settings: KubernetesSpec,
    request: TrialRequest | CallRequest,
    trial_timeout: float | None = None,
    group: list[TrialRequest] | None = None,
) -> dict[str, Any]:
    """batch/v1 Job with one pod for ``request``. The request travels as JSON in an env variable; it
    must carry no credential (the storage URL comes from a Secret), and callers strip it. A
    CallRequest (a scikit-learn search's batch of fits) gets the same pod, under another variable.

    ``group``: a packed group (executor.packing) whose first member is ``request``: one pod, with the
    resources (one GPU) of one trial, runs them all; its trial label is the first member's and the
    annotation ``kubetune.io/members`` lists them all, so a restarted controller adopts the group."""
    labels = {
        LABEL_APP: "kubetune",
        LABEL_COMPONENT: "trial",
        LABEL_STUDY: study_label(request.study_name),
        LABEL_TRIAL: str(request.trial_number),
    }
    # HOME: the root filesystem is read-only and the image's user may have no home; /tmp is the pod's emptyDir
    # (torch, MLflow and matplotlib write caches under it)
    if group:
        payload = {"name": GROUP_ENV, "value": GROUP_REQUESTS.dump_json(group).decode()}
    else:
        payload = {
            "name": CALL_ENV if isinstance(request, CallRequest) else REQUEST_ENV,
            "value": request.model_dump_json(),
        }
    env: list[dict[str, Any]] = [payload, {"name": "HOME", "value": "/tmp"}]
    env += [{"name": k, "value": v} for k, v in sorted(settings.env.items())]
    env += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}
        for k, ref in sorted(settings.secretEnv.items())
    ]
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": settings.image,
        "imagePullPolicy": settings.imagePullPolicy,
        "command": ["kubetune-trial"],
        "env": env,
        "resources": {
            kind: {k: str(v) for k, v in values.items()}
            for kind, values in settings.resources.items()
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": settings.serviceAccountName,
        "automountServiceAccountToken": False,  # a trial never talks to the API server
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if settings.nodeSelector:
        pod_spec["nodeSelector"] = dict(settings.nodeSelector)
    if settings.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in settings.tolerations]
    if settings.affinity:
        pod_spec["affinity"] = settings.affinity
    if settings.priorityClassName:
        pod_spec["priorityClassName"] = settings.priorityClassName
    if settings.imagePullSecrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in settings.imagePullSecrets]
    job_spec: dict[str, Any] = {
        "backoffLimit": 0,  # kubetune retries lost trials itself, with the same parameters and a limit
        "ttlSecondsAfterFinished": settings.ttlSecondsAfterFinished,
        "podFailurePolicy": {
            "rules": [
                # preemption, eviction, node drain: not the trial's fault; kubetune re-queues it
                {
                    "action": "FailJob",
                    "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                },
                {
                    "action": "FailJob",
                    "onExitCodes": {"containerName": CONTAINER, "operator": "NotIn", "values": [0]},
                },
            ]
        },
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
    }
    if trial_timeout is not None:
        job_spec["activeDeadlineSeconds"] = max(1, int(round(trial_timeout)))
    annotations = {ANNOTATION_STUDY: request.study_name}
    if group:
        annotations[ANNOTATION_MEMBERS] = ",".join(str(r.trial_number) for r in group)
        job_spec["template"]["metadata"]["annotations"] = dict(annotations)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(request.study_name, request.trial_number),
            "namespace": settings.namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": job_spec,
    }
