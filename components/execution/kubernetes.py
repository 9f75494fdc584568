"""Kubernetes executor: each trial is one Job (see kubernetes_manifest.render_job); outcomes come from
one pod watch per study.

The watch resumes from the last resourceVersion it saw and re-lists when the server answers 410 Gone;
every API call carries a timeout. Outcomes:

- pod Succeeded: the result the pod published to the study storage (never scraped from logs);
- pod Failed with exit code 3: the trial's own error (reason: the pod's last log lines);
- OOMKilled: a failed trial whose reason says so;
- DisruptionTarget (preemption, eviction, node drain): a *retryable* failure, re-run with the same params;
- image pull errors, a container the kubelet cannot create (a missing Secret), a pod unschedulable for
  longer than ``unschedulableTimeout``, or a scheduled pod whose container has not started after
  ``startTimeout`` (a volume that never mounts): the study stops early with a clear message
  (ClusterProblem) instead of hanging. A Pending pod's trial is heartbeated for by the controller (see
  ``starting``), so these limits are what bounds its wait.

``cancel`` and ``close`` delete Jobs with propagationPolicy Background, so their pods go too. A restarted
controller ``adopt``s the study's Jobs that are still there instead of creating them again.

A packed group (executor.packing) is one Job whose pod runs every member and publishes each member's
result; the pod's outcome is each member's: a disrupted group runs again, a group OOMKilled runs again
member by member (alone), and a group that failed otherwise fails every member without a result.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from kubetune.components.core import (
    ANNOTATION_MEMBERS,
    LABEL_TRIAL,
    CallRequest,
    KubetuneError,
    TrialRequest,
    TrialResult,
    error_reason,
)
from kubetune.components.execution.executor import Executor, lost_with
from kubetune.components.execution.kubernetes_manifest import TRIAL_ERROR_EXIT, render_job, selector
from kubetune.components.execution.packing import PackingPlan
from kubetune.components.spec import KubernetesSpec

log = logging.getLogger("kubetune.kubernetes")
ResultReader = Callable[[int], TrialResult | None]  # trial number -> the result its pod published
IMAGE_ERRORS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
# the kubelet cannot build the container: a Secret or ConfigMap (key) the pod names is missing, a bad mount
CONTAINER_ERRORS = {"CreateContainerConfigError", "CreateContainerError"}
LOG_LINES = 20


class ClusterProblem(KubetuneError):
    """The cluster cannot run this study's trials (image cannot be pulled, pods never scheduled)."""


@dataclass
class _Tracked:
    name: str
    submitted_at: float
    pod_seen: bool = False  # a pod that was seen and is gone (node lost) is no longer "starting"
    unschedulable_since: float | None = None
    scheduled_pending_since: float | None = None


class KubernetesExecutor(Executor):
    def __init__(
        self,
        settings: KubernetesSpec,
        study_name: str,
        parallelism: int,
        result_reader: ResultReader,
        trial_timeout: float | None = None,
        api_client: Any | None = None,
        request_timeout: float = 10.0,
        packing: PackingPlan | None = None,
    ) -> None:
        self.settings = settings
        self.study_name = study_name
        self.workers = parallelism
        self.packing = packing
        self.capacity = parallelism * self.group_size
        self.result_reader = result_reader
        self.trial_timeout = trial_timeout
        self.request_timeout = request_timeout
        self._api_client = api_client
        self._tracked: dict[int, _Tracked] = {}
        self._resource_version: str | None = None
        self._pods: dict[int, dict[str, Any]] = {}  # trial number -> latest pod seen
        # a packed Job's first member -> every member; its pod carries the first member's label
        self._members: dict[int, list[int]] = {}
        self._lost: list[TrialResult] = []  # members of a group whose Job was deleted for another

    # -- clients (connected lazily) -----------------------------------------------------------------

    @cached_property
    def client(self) -> Any:
        from kubernetes import client, config

        if self._api_client is not None:
            return self._api_client
        try:
            # KUBECONFIG read now, not when the client was imported (a notebook may set it later)
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
        except config.ConfigException as outside:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                raise ClusterProblem(
                    f"no Kubernetes cluster to run trials on: {error_reason(outside)} (KUBECONFIG "
                    f"{os.environ.get('KUBECONFIG') or 'unset, ~/.kube/config'}), and not in a pod"
                ) from None
        return client.ApiClient()

    @cached_property
    def batch(self) -> Any:
        from kubernetes import client

        return client.BatchV1Api(self.client)

    @cached_property
    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.client)

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    # -- the executor contract ----------------------------------------------------------------------

    def start(self) -> KubernetesExecutor:
        """Connect and list the study's pods: a cluster that cannot be reached or refuses the
        listing is one line now, before any trial is asked for."""
        from kubernetes.client import ApiException

        try:
            self._relist()
        except ApiException as error:
            raise ClusterProblem(
                f"the Kubernetes API answered {error.status} {error.reason} listing pods in namespace {self.namespace}"
            ) from None
        except ClusterProblem:
            raise
        except Exception as error:  # noqa: BLE001 - urllib3 and socket errors: nothing listens there
            raise ClusterProblem(
                f"cannot reach the Kubernetes API at {self.client.configuration.host}: {type(error).__name__}: {error_reason(error)}"
            ) from None
        return self

    def adopt(self) -> list[int]:
        """The study's Jobs still in the cluster (a previous controller's): track them, don't recreate."""
        jobs = self.batch.list_namespaced_job(
            self.namespace,
            label_selector=selector(self.study_name),
            _request_timeout=self.request_timeout,
        )
        adopted = []
        for job in jobs.items:
            number = int(job.metadata.labels[LABEL_TRIAL])
            if number not in self._tracked:
                self._tracked[number] = _Tracked(job.metadata.name, time.monotonic())
                members = (job.metadata.annotations or {}).get(ANNOTATION_MEMBERS)
                if members:
                    self._members[number] = [int(n) for n in members.split(",")]
                adopted += self._members_of(number)
        self._relist()
        return sorted(adopted)

    def _members_of(self, lead: int) -> list[int]:
        return self._members.get(lead, [lead])

    def _lead_of(self, number: int) -> int | None:
        """The trial whose Job runs ``number`` (itself, or its packed group's first member)."""
        if number in self._tracked:
            return number
        return next((lead for lead, group in self._members.items() if number in group), None)

    def submit_group(self, requests: list[TrialRequest]) -> None:
        """One Job, one pod, one GPU for the whole group."""
        if len(requests) == 1:
            self.submit(requests[0])
            return
        group = [r.model_copy(update={"storage_url": None}) for r in requests]
        self.submit(group[0], group)
        self._members[group[0].trial_number] = [r.trial_number for r in group]

    def submit(
        self, request: TrialRequest | CallRequest, group: list[TrialRequest] | None = None
    ) -> None:
        from kubernetes.client import ApiException

        if isinstance(request, TrialRequest):
            # the storage URL may hold a password: the pod gets it from a Secret, never from the manifest
            request = request.model_copy(update={"storage_url": None})
        body = render_job(self.settings, request, self.trial_timeout, group)
        try:
            self.batch.create_namespaced_job(
                self.namespace, body, _request_timeout=self.request_timeout
            )
        except ApiException as error:
            # 409: a Job for this trial exists already (adopted); do not duplicate
            if error.status != 409:
                raise ClusterProblem(
                    f"cannot create Job {body['metadata']['name']} in namespace {self.namespace}: {error.status} {error.reason}"
                ) from None
        self._tracked[request.trial_number] = _Tracked(body["metadata"]["name"], time.monotonic())

    def running(self) -> list[int]:
        return sorted(n for lead in self._tracked for n in self._members_of(lead))

    def starting(self) -> list[int]:
        """Jobs whose pod is not running yet: not created, waiting for a node (GPU scale-up), pulling its image."""

        def pending(number: int, tracked: _Tracked) -> bool:
            pod = self._pods.get(number)
            return (
                not tracked.pod_seen
                if pod is None
                else pod.get("status", {}).get("phase", "Pending") == "Pending"
            )

        return sorted(
            n
            for lead, tracked in self._tracked.items()
            if pending(lead, tracked)
            for n in self._members_of(lead)
        )

    def wait(self, timeout: float) -> list[TrialResult]:
        results, self._lost = self._lost, []
        if not self._tracked or results:
            return results
        results = self._collect()
        if results:
            return results
        self._watch(timeout)
        return self._collect()

    def cancel(self, trial_number: int) -> None:
        """Delete the trial's Job; the other members of its packed group go with it and come back from
        the next ``wait`` as lost (retried with the same parameters)."""
        lead = self._lead_of(trial_number)
        tracked = self._tracked.pop(lead, None) if lead is not None else None
        if tracked is None or lead is None:
            return
        self._delete_job(tracked.name)
        self._lost += lost_with(trial_number, self._members.pop(lead, [lead]), "Job")

    def close(self) -> None:
        """Delete every Job of this study (finished ones too): nothing of it remains in the cluster."""
        from kubernetes.client import ApiException

        try:
            jobs = self.batch.list_namespaced_job(
                self.namespace,
                label_selector=selector(self.study_name),
                _request_timeout=self.request_timeout,
            )
        except ApiException as error:
            log.warning("could not list the study's Jobs to delete them: %s", error.reason)
            return
        for job in jobs.items:
            self._delete_job(job.metadata.name)
        self._tracked.clear()

    def __enter__(self) -> KubernetesExecutor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- watching -------------------------------------------------------------------------------------

    def _relist(self) -> None:
        pods = self.core.list_namespaced_pod(
            self.namespace,
            label_selector=selector(self.study_name),
            _request_timeout=self.request_timeout,
        )
        self._pods = {}
        for pod in pods.items:
            self._remember(self.client.sanitize_for_serialization(pod))
        self._resource_version = pods.metadata.resource_version

    def _watch(self, timeout: float) -> None:
        from kubernetes import watch
        from kubernetes.client import ApiException

        stream = watch.Watch()
        try:
            for event in stream.stream(
                self.core.list_namespaced_pod,
                self.namespace,
                label_selector=selector(self.study_name),
                resource_version=self._resource_version,
                timeout_seconds=max(1, int(timeout)),
                _request_timeout=timeout + self.request_timeout,
            ):
                pod = self.client.sanitize_for_serialization(event["object"])
                self._resource_version = pod["metadata"]["resourceVersion"]
                if event["type"] == "DELETED":
                    self._pods.pop(int(pod["metadata"]["labels"][LABEL_TRIAL]), None)
                else:
                    self._remember(pod)
                if self._any_finished():
                    stream.stop()
        except ApiException as error:
            if error.status == 410:  # history compacted: start again from a fresh list
                log.info("pod watch expired (410); re-listing")
                self._relist()
            else:
                raise ClusterProblem(
                    f"the Kubernetes API answered {error.status} {error.reason} while watching pods"
                ) from None
        except Exception as error:  # noqa: BLE001 - read timeouts and dropped connections: re-list next time
            log.warning("pod watch interrupted (%s); re-listing", type(error).__name__)
            self._relist()

    def _remember(self, pod: dict[str, Any]) -> None:
        number = int(pod["metadata"]["labels"][LABEL_TRIAL])
        self._pods[number] = pod
        if number in self._tracked:
            self._tracked[number].pod_seen = True

    def _any_finished(self) -> bool:
        return any(
            self._pods.get(n, {}).get("status", {}).get("phase") in ("Succeeded", "Failed")
            for n in self._tracked
        )

    # -- outcomes -------------------------------------------------------------------------------------

    def _collect(self) -> list[TrialResult]:
        results = []
        for number, tracked in list(self._tracked.items()):
            pod = self._pods.get(number)
            if pod is None:
                continue
            outcome = self._outcome(number, tracked, pod)
            if outcome is not None:
                self._tracked.pop(number)
                members = self._members.pop(number, None)
                results += self._group_outcome(outcome, pod, members) if members else [outcome]
        return results

    def _group_outcome(
        self, outcome: TrialResult, pod: dict[str, Any], members: list[int]
    ) -> list[TrialResult]:
        """Every member's result from its group's pod: what each published, when the pod finished its
        work or was OOMKilled after some members had finished theirs; else the pod's outcome. The
        members of a group OOMKilled that had not finished run again, each alone."""
        phase = pod.get("status", {}).get("phase")
        finished_work = phase == "Succeeded" or _terminated(pod).get("exitCode") == TRIAL_ERROR_EXIT
        oom = _terminated(pod).get("reason") == "OOMKilled"
        results = []
        for number in members:
            published = self.result_reader(number) if finished_work or oom else None
            if published is not None:
                results.append(published)
            elif oom:
                results.append(
                    outcome.model_copy(
                        update={
                            "trial_number": number,
                            "retryable": True,
                            "retry_alone": True,
                            "error": f"{outcome.error} (packed with {len(members) - 1} other trial(s); each runs again alone)",
                        }
                    )
                )
            else:
                results.append(outcome.model_copy(update={"trial_number": number}))
        return results

    def _outcome(self, number: int, tracked: _Tracked, pod: dict[str, Any]) -> TrialResult | None:
        status = pod.get("status", {})
        phase = status.get("phase")
        elapsed = time.monotonic() - tracked.submitted_at
        if phase == "Pending":
            self._check_stuck(tracked, pod)
            return None
        if phase == "Succeeded":
            result = self.result_reader(number)
            if result is None:
                return TrialResult(
                    trial_number=number,
                    state="FAIL",
                    duration_s=elapsed,
                    error=f"pod {pod['metadata']['name']} succeeded but published no result",
                )
            return result
        if phase != "Failed":
            return None
        conditions = {c.get("type"): c for c in status.get("conditions", [])}
        terminated = _terminated(pod)
        disruption = conditions.get("DisruptionTarget", {})
        if disruption.get("status") == "True" or status.get("reason") in (
            "Evicted",
            "Preempted",
            "NodeLost",
            "Shutdown",
        ):
            why = disruption.get("reason") or status.get("reason")
            return TrialResult(
                trial_number=number,
                state="FAIL",
                duration_s=elapsed,
                retryable=True,
                error=f"pod {pod['metadata']['name']} was disrupted ({why}); the trial runs again",
            )
        if terminated.get("reason") == "OOMKilled":
            limit = self.settings.resources.get("limits", {}).get("memory", "its limit")
            return TrialResult(
                trial_number=number,
                state="FAIL",
                duration_s=elapsed,
                error=f"OOMKilled: the trial ran out of memory (limit {limit}) in pod {pod['metadata']['name']}",
            )
        if status.get("reason") == "DeadlineExceeded":
            return TrialResult(
                trial_number=number,
                state="FAIL",
                duration_s=elapsed,
                error=f"trial exceeded its timeout of {self.trial_timeout:g} s (activeDeadlineSeconds)",
            )
        published = self.result_reader(number)
        code = terminated.get("exitCode")
        # the reason a user reads: the pod's last words
        lines = self._last_log_lines(pod["metadata"]["name"])
        if published is not None and code == TRIAL_ERROR_EXIT:
            return published.model_copy(update={"error": lines})
        return TrialResult(
            trial_number=number,
            state="FAIL",
            duration_s=elapsed,
            error=f"exit code {code}: {lines}",
        )

    def _check_stuck(self, tracked: _Tracked, pod: dict[str, Any]) -> None:
        status = pod.get("status", {})
        for container in status.get("containerStatuses", []) or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in IMAGE_ERRORS:
                raise ClusterProblem(
                    f"the trial image {self.settings.image} cannot be pulled ({waiting['reason']}: {waiting.get('message', '')})"
                )
            # a Pending pod is beaten for: it must not wait forever
            if waiting.get("reason") in CONTAINER_ERRORS:
                raise ClusterProblem(
                    f"trial pods cannot start their container ({waiting['reason']}: {waiting.get('message', '')}); "
                    f"check the Secrets and ConfigMaps the trial pods use in namespace {self.namespace}"
                )
        scheduled = next(
            (c for c in status.get("conditions", []) or [] if c.get("type") == "PodScheduled"), None
        )
        if scheduled and scheduled.get("status") == "True":
            self._check_start(tracked, pod)
        if (
            scheduled
            and scheduled.get("status") == "False"
            and scheduled.get("reason") == "Unschedulable"
        ):
            tracked.unschedulable_since = tracked.unschedulable_since or time.monotonic()
            if time.monotonic() - tracked.unschedulable_since > self.settings.unschedulableTimeout:
                raise ClusterProblem(
                    f"trial pods stayed unschedulable for {self.settings.unschedulableTimeout:g} s: {scheduled.get('message', '')} "
                    f"(resources {self.settings.resources}, nodeSelector {self.settings.nodeSelector})"
                )

    def _check_start(self, tracked: _Tracked, pod: dict[str, Any]) -> None:
        """A scheduled pod whose container never starts (a volume that cannot attach, an image pull that
        never ends) sends no further events; without this limit its trial would wait for ever."""
        tracked.scheduled_pending_since = tracked.scheduled_pending_since or time.monotonic()
        if time.monotonic() - tracked.scheduled_pending_since <= self.settings.startTimeout:
            return
        name = pod["metadata"]["name"]
        waiting = _container_state(pod, "waiting")
        why = ": ".join(
            part for part in (waiting.get("reason", "Pending"), waiting.get("message", "")) if part
        )
        raise ClusterProblem(
            f"trial pod {name} was scheduled but its container did not start within {self.settings.startTimeout:g} s ({why}); "
            f"see kubectl describe pod {name} -n {self.namespace} (volumes that do not mount, an image too slow to pull)"
        )

    def _last_log_lines(self, pod_name: str) -> str:
        from kubernetes.client import ApiException

        try:
            text = self.core.read_namespaced_pod_log(
                pod_name,
                self.namespace,
                tail_lines=LOG_LINES,
                _request_timeout=self.request_timeout,
            )
        except ApiException as error:
            return f"(no logs: {error.status} {error.reason})"
        lines = [line for line in (text or "").splitlines() if line.strip()]
        return " | ".join(lines[-5:]) if lines else "(no output)"

    def _delete_job(self, name: str) -> None:
        from kubernetes.client import ApiException, V1DeleteOptions

        try:
            self.batch.delete_namespaced_job(
                name,
                self.namespace,
                body=V1DeleteOptions(propagation_policy="Background"),
                _request_timeout=self.request_timeout,
            )
        except ApiException as error:
            if error.status != 404:
                log.warning("could not delete Job %s: %s %s", name, error.status, error.reason)


def _terminated(pod: dict[str, Any]) -> dict[str, Any]:
    return _container_state(pod, "terminated")


def _container_state(pod: dict[str, Any], kind: str) -> dict[str, Any]:
    """The first container state of ``kind`` (terminated, waiting) in the pod's status, or {}."""
    for container in pod.get("status", {}).get("containerStatuses", []) or []:
        state = container.get("state") or {}
        if state.get(kind):
            return state[kind]
    return {}
