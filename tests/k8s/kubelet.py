"""A test kubelet (and Job controller) for FakeKubeAPI: it turns each created Job into a pod, runs the
pod's container -- as a local process with the pod's environment, or inside the image the manifest names
(``runtime=BuildahRuntime()``, see container_runtime) -- with secretKeyRef and envFrom resolved from test
Secrets or from the API server's Secrets and ConfigMaps, streams its log, and writes pod status, Job status
and logs back — through the official client, over HTTP, as the real
components would. ``behaviour(job) -> str`` injects failures per Job:

run (default) | oom | evict | unschedulable | image_pull | config_error | hang | slow_start (the pod stays Pending,
its container "ContainerCreating", for ``slow_start_s`` seconds -- a GPU node scaling up, a large image
being pulled -- then runs) | stuck_creating (the same, for ever: a volume that never attaches)

Bare pods (a Deployment's, which no controller here expands) are run with ``run_pod``. A finished Job
with ``ttlSecondsAfterFinished`` is deleted (Background) when that time has passed, as the TTL
controller does.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from kubernetes import client, watch

from tests.k8s.container_runtime import (
    ContainerConfigError,
    ImageNotPresent,
    LocalProcessRuntime,
    VolumeSource,
    container_env,
    decode_secret,
)
from tests.k8s.fake_api import FakeKubeAPI

Behaviour = Callable[[dict[str, Any]], str]


def _now() -> str:
    from datetime import datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TestKubelet:
    __test__ = False  # not a pytest class

    def __init__(
        self,
        api: FakeKubeAPI,
        namespace: str,
        secrets: dict[str, dict[str, str]],
        behaviour: Behaviour | None = None,
        extra_env: dict[str, str] | None = None,
        cwd: Path | None = None,
        slow_start_s: float = 15.0,
        runtime: Any = None,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.secrets = secrets
        self.behaviour = behaviour or (lambda job: "run")
        self.runtime = runtime or LocalProcessRuntime(extra_env, cwd)
        self.slow_start_s = slow_start_s
        configuration = client.Configuration()
        configuration.host = api.url
        if api.ca_cert is not None:
            configuration.ssl_ca_cert = str(api.ca_cert)
        self.client = client.ApiClient(configuration)
        self.core = client.CoreV1Api(self.client)
        self.batch = client.BatchV1Api(self.client)
        self.processes: dict[str, subprocess.Popen] = {}
        self.users: dict[str, tuple[int, int]] = {}  # pod name -> the uid/gid its container ran as
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pod_threads: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> TestKubelet:
        for target in (self._watch_jobs, self._watch_pod_deletions):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, wait_s: float = 30.0) -> None:
        """Stop watching, kill every container still running, and wait for the pods' threads to clean up
        (an image's working container is removed when its pod's thread ends)."""
        self._stop.set()
        for process in list(self.processes.values()):
            if process.poll() is None:
                process.kill()
        deadline = time.monotonic() + wait_s
        for thread in list(self._pod_threads):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _watch_jobs(self) -> None:
        seen: set[str] = set()
        while not self._stop.is_set():
            try:
                for event in watch.Watch().stream(
                    self.batch.list_namespaced_job,
                    self.namespace,
                    timeout_seconds=1,
                    _request_timeout=5,
                ):
                    job = (
                        event["object"].to_dict()
                        if hasattr(event["object"], "to_dict")
                        else event["object"]
                    )
                    uid = job["metadata"]["uid"]
                    if event["type"] == "ADDED" and uid not in seen:
                        seen.add(uid)
                        thread = threading.Thread(
                            target=self._run_job,
                            args=(self.client.sanitize_for_serialization(event["object"]),),
                            daemon=True,
                        )
                        thread.start()
                        self._pod_threads.append(thread)
            except Exception:  # noqa: BLE001 - the server may be stopping
                time.sleep(0.2)

    def _watch_pod_deletions(self) -> None:
        while not self._stop.is_set():
            try:
                for event in watch.Watch().stream(
                    self.core.list_namespaced_pod,
                    self.namespace,
                    timeout_seconds=1,
                    _request_timeout=5,
                ):
                    if event["type"] == "DELETED":
                        process = self.processes.get(event["object"].metadata.name)
                        if process is not None and process.poll() is None:
                            process.kill()
            except Exception:  # noqa: BLE001
                time.sleep(0.2)

    # -- one Job -------------------------------------------------------------------------------------

    def run_pod(self, pod: dict[str, Any]) -> threading.Thread:
        """Create a bare pod (a Deployment's replica) and run it in the background until it ends."""
        self.core.create_namespaced_pod(self.namespace, pod)
        thread = threading.Thread(target=self._run_pod, args=(pod, None), daemon=True)
        thread.start()
        self._pod_threads.append(thread)
        return thread

    def _run_job(self, job: dict[str, Any]) -> None:
        name = job["metadata"]["name"]
        template = job["spec"]["template"]
        pod_name = f"{name}-{uuid.uuid4().hex[:5]}"
        labels = {
            **(template.get("metadata") or {}).get("labels", {}),
            "job-name": name,
            "controller-uid": job["metadata"]["uid"],
        }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "labels": labels,
                "annotations": (template.get("metadata") or {}).get("annotations", {}),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": name,
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": template["spec"],
        }
        self.core.create_namespaced_pod(self.namespace, pod)
        self._run_pod(pod, job)

    def _run_pod(self, pod: dict[str, Any], job: dict[str, Any] | None) -> None:
        pod_name = pod["metadata"]["name"]
        if self.api.state.get("pods", self.namespace, pod_name) is None:
            return  # its Job was deleted meanwhile and the pod garbage-collected: nothing to run
        mode = self.behaviour(job) if job is not None else "run"
        template = pod
        container = template["spec"]["containers"][0]
        if mode == "unschedulable":
            return self._pod_status(
                pod_name,
                "Pending",
                conditions=[
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
                    }
                ],
            )
        if mode == "image_pull":
            return self._pending_on_node(
                pod_name, "ErrImagePull", f'failed to pull image "{container["image"]}": not found'
            )
        if mode == "slow_start":
            self._pending_on_node(pod_name, "ContainerCreating")
            time.sleep(self.slow_start_s)
            if self.api.state.get("pods", self.namespace, pod_name) is None:
                return  # cancelled while it waited
        if (
            mode == "stuck_creating"
        ):  # a volume that never attaches: scheduled, then no further event
            return self._pending_on_node(pod_name, "ContainerCreating")
        if mode == "config_error":
            return self._pending_on_node(
                pod_name, "CreateContainerConfigError", 'secret "kubetune-study-db" not found'
            )
        try:
            started_container = self.runtime.start(
                pod, container, self._env(container), self._volume_source()
            )
        except ImageNotPresent as exc:
            return self._pending_on_node(pod_name, "ErrImageNeverPull", str(exc))
        except ContainerConfigError as exc:
            return self._pending_on_node(pod_name, "CreateContainerConfigError", str(exc))
        started = time.monotonic()
        process = started_container.process
        self.processes[pod_name] = process
        if started_container.user is not None:
            self.users[pod_name] = started_container.user
        self._pod_status(
            pod_name,
            "Running",
            container_state={"running": {"startedAt": _now()}},
            conditions=[{"type": "PodScheduled", "status": "True"}],
        )
        reader = threading.Thread(target=self._stream_log, args=(pod_name, process), daemon=True)
        reader.start()
        deadline = job["spec"].get("activeDeadlineSeconds") if job is not None else None
        if mode in ("oom", "evict"):
            time.sleep(1.0)
            self._kill(process)
        try:
            process.wait(timeout=deadline)
            reason = None
        except subprocess.TimeoutExpired:
            self._kill(process)
            process.wait()
            reason = "DeadlineExceeded"
        reader.join()
        started_container.cleanup()
        if self.api.state.get("pods", self.namespace, pod_name) is None:
            return  # deleted meanwhile (cancelled)
        code = process.returncode
        if mode == "oom":
            terminated = {
                "exitCode": 137,
                "reason": "OOMKilled",
                "startedAt": _now(),
                "finishedAt": _now(),
            }
        elif mode == "evict":
            return self._finish(
                job,
                pod_name,
                "Failed",
                {"exitCode": 137, "reason": "Error", "finishedAt": _now()},
                reason="Evicted",
                conditions=[
                    {
                        "type": "DisruptionTarget",
                        "status": "True",
                        "reason": "EvictionByEvictionAPI",
                        "message": "Eviction API: evicting",
                    }
                ],
            )
        else:
            terminated = {
                "exitCode": code if code >= 0 else 128 - code,
                "reason": "Completed" if code == 0 else "Error",
                "finishedAt": _now(),
            }
        phase = (
            "Succeeded"
            if code == 0 and mode in ("run", "slow_start") and reason is None
            else "Failed"
        )
        self._finish(
            job, pod_name, phase, terminated, reason=reason, elapsed=time.monotonic() - started
        )

    def _stream_log(self, pod_name: str, process: subprocess.Popen) -> None:
        """Append the container's output to its log as it comes (``kubectl logs -f`` reads it live)."""
        state = self.api.state
        key = (self.namespace, pod_name)
        with state.changed:
            state.logs.setdefault(key, "")
        for line in process.stdout:
            with state.changed:
                state.logs[key] = state.logs.get(key, "") + line
                state.changed.notify_all()

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        process.kill()  # an image's container: killing unshare (--kill-child) ends its PID namespace

    def _secret(self, name: str) -> dict[str, str]:
        if name in self.secrets:
            return self.secrets[name]
        obj = self.api.state.get("secrets", self.namespace, name)
        if obj is None:
            raise ContainerConfigError(f'secret "{name}" not found')
        return decode_secret(obj)

    def _config_map(self, name: str) -> dict[str, str]:
        obj = self.api.state.get("configmaps", self.namespace, name)
        if obj is None:
            raise ContainerConfigError(f'configmap "{name}" not found')
        return dict(obj.get("data") or {})

    def _volume_source(self) -> VolumeSource:
        return VolumeSource(
            self.namespace,
            self._secret,
            self._config_map,
            lambda account: self.api.state.authorizer.issue_token(self.namespace, account),
            api_port=self.api.port,
            ca_cert=self.api.ca_cert,
        )

    def _env(self, container: dict[str, Any]) -> dict[str, str]:
        return container_env(container, self._secret, self._config_map)

    def _pending_on_node(self, pod_name: str, reason: str, message: str | None = None) -> None:
        """Scheduled, its container waiting for ``reason`` (what a kubelet reports before the container runs)."""
        waiting = {"reason": reason} | ({"message": message} if message else {})
        self._pod_status(
            pod_name,
            "Pending",
            container_state={"waiting": waiting},
            conditions=[{"type": "PodScheduled", "status": "True"}],
        )

    def _pod_status(
        self,
        pod_name: str,
        phase: str,
        container_state: dict[str, Any] | None = None,
        conditions: list[dict[str, Any]] | None = None,
        reason: str | None = None,
    ) -> None:
        status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
        if container_state is not None:
            status["containerStatuses"] = [
                {
                    "name": "container",
                    "image": "image",
                    "imageID": "",
                    "ready": phase == "Running",
                    "restartCount": 0,
                    "state": container_state,
                }
            ]
        if reason:
            status["reason"] = reason
        try:
            self.core.replace_namespaced_pod_status(
                pod_name,
                self.namespace,
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": pod_name},
                    "status": status,
                },
            )
        except client.ApiException:
            pass  # deleted meanwhile

    def _finish(
        self,
        job: dict[str, Any] | None,
        pod_name: str,
        phase: str,
        terminated: dict[str, Any],
        reason: str | None = None,
        conditions: list[dict[str, Any]] | None = None,
        elapsed: float = 0.0,
    ) -> None:
        self._pod_status(
            pod_name,
            phase,
            container_state={"terminated": terminated},
            conditions=conditions,
            reason=reason,
        )
        if job is None:
            return
        succeeded = phase == "Succeeded"
        condition = {
            "type": "Complete" if succeeded else "Failed",
            "status": "True",
            "reason": reason or ("Completed" if succeeded else "PodFailurePolicy"),
        }
        status = {
            "succeeded": 1 if succeeded else 0,
            "failed": 0 if succeeded else 1,
            "conditions": [condition],
        }
        try:
            self.batch.replace_namespaced_job_status(
                job["metadata"]["name"],
                self.namespace,
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {"name": job["metadata"]["name"]},
                    "status": status,
                },
            )
        except client.ApiException:
            return
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is not None:  # the TTL-after-finished controller
            timer = threading.Timer(float(ttl), self._expire, args=(job["metadata"]["name"],))
            timer.daemon = True
            timer.start()

    def _expire(self, job_name: str) -> None:
        if self._stop.is_set():
            return
        try:
            self.batch.delete_namespaced_job(
                job_name, self.namespace, propagation_policy="Background"
            )
        except Exception:  # noqa: BLE001 - deleted by its owner meanwhile, or the test's API server is gone
            pass
