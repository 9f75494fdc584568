"""What a trial pod runs: the ``kubetune-trial`` console script.

The request comes from ``KUBETUNE_TRIAL_REQUEST`` (no credentials in it); the study storage URL from
``KUBETUNE_STORAGE_URL``, which the Job fills from a Secret. The pod heartbeats while it works and
publishes its TrialResult to the study storage (trial system attribute ``kubetune.result``); the
controller reads it from there when the pod has finished, so no metric is ever scraped from logs.
Exit codes: 0 the trial finished, 3 the trial itself failed (its error is printed last, which the
controller shows as the reason), anything else is infrastructure.

A packed group's Job (executor.packing) sets ``KUBETUNE_TRIAL_GROUP`` instead, and every member's result
is published. ``fused``: the members train as one batched model in this process, which heartbeats for
each. ``processes``: each member runs as ``kubetune-trial`` runs one trial, in a child process of its
own (its own heartbeat, its own published result), all at once, sharing the pod's GPU -- plain child
processes rather than a multiprocessing pool, whose POSIX semaphores a locked-down container may not
allow. A member that fails is published as failed and the pod still exits 0: the failure is that
trial's, not the group's. A member process that ends without its result (killed by the kernel for
memory) is published as lost here, to run again alone.

A Job made by ``KubetuneSearchCV(executor="kubernetes")`` sets ``KUBETUNE_CALL_REQUEST`` instead: the
pod runs one batch of scikit-learn fits (a cloudpickled joblib call read from the artifact store, so
any estimator whose classes the image can import runs) and writes what it returned, or the error it
raised, next to it; no study storage is involved.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from contextlib import ExitStack

from pydantic import ValidationError

from kubetune.components.core import (
    RESULT_ATTR,
    CallRequest,
    TrialRequest,
    TrialResult,
    retry_transient,
)
from kubetune.components.execution.call_jobs import run_call
from kubetune.components.execution.fused_group import run_fused_group
from kubetune.components.execution.heartbeat import heartbeat, shared_storage
from kubetune.components.execution.kubernetes_manifest import (
    CALL_ENV,
    GROUP_ENV,
    GROUP_REQUESTS,
    REQUEST_ENV,
    TRIAL_ERROR_EXIT,
)
from kubetune.components.execution.trial import run_trial


def publish(storage_url: str, trial_id: int, result: TrialResult) -> None:
    storage = shared_storage(storage_url)
    retry_transient(
        lambda: storage.set_trial_system_attr(
            trial_id, RESULT_ATTR, result.model_dump(mode="json")
        ),
        what="publish result",
    )


def read_published(storage: object, trial_id: int) -> TrialResult | None:
    attrs = storage.get_trial_system_attrs(trial_id)  # type: ignore[attr-defined]
    return TrialResult.model_validate(attrs[RESULT_ATTR]) if RESULT_ATTR in attrs else None


def main(argv: list[str] | None = None) -> int:
    """Reads its trial from the environment the Job sets; arguments only ask for this help."""
    argparse.ArgumentParser(
        prog="kubetune-trial",
        description=f"Run one kubetune trial: the request comes from ${REQUEST_ENV}, the result goes to the study "
        "storage named by $KUBETUNE_STORAGE_URL. Kubernetes Jobs that kubetune creates run this.",
    ).parse_args(sys.argv[1:] if argv is None else argv)
    if CALL_ENV in os.environ:
        return _main_call(os.environ[CALL_ENV])
    if GROUP_ENV in os.environ:
        return _main_group(os.environ[GROUP_ENV])
    if REQUEST_ENV not in os.environ:
        print(
            f"{REQUEST_ENV} is not set: kubetune-trial runs in a trial Job that kubetune created",
            file=sys.stderr,
        )
        return 2
    try:
        request = TrialRequest.model_validate_json(os.environ[REQUEST_ENV])
    except ValidationError as error:  # a Job edited by hand, or made by another kubetune version
        print(_unreadable(REQUEST_ENV, error), file=sys.stderr)
        return 2
    problem = _unrunnable([request], REQUEST_ENV)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    storage_url = os.environ["KUBETUNE_STORAGE_URL"]
    request = request.model_copy(update={"storage_url": storage_url})  # for intermediate reports
    assert request.trial_id is not None
    with heartbeat(storage_url, request.trial_id, request.heartbeat_interval):
        result = run_trial(request)
        publish(storage_url, request.trial_id, result)
    _say(request, result)
    if result.state == "FAIL":
        print(result.error, file=sys.stderr)
        return TRIAL_ERROR_EXIT
    return 0


def _unrunnable(requests: list[TrialRequest], variable: str) -> str | None:
    """Why this pod cannot run its trials: no storage Secret, or a request no controller made."""
    if not os.environ.get("KUBETUNE_STORAGE_URL"):
        return "KUBETUNE_STORAGE_URL is not set: the Job needs the study storage Secret"
    if any(r.trial_id is None for r in requests):
        return f"{variable} names no trial_id: the Job was not created by kubetune's controller"
    return None


def _say(request: TrialRequest, result: TrialResult) -> None:
    values = ", ".join(f"{m}={v:.5g}" for m, v in zip(request.metrics, result.values or []))
    print(
        f"trial {request.trial_number}: {result.state} {values} in {result.duration_s:.2f} s on {result.device}",
        flush=True,
    )


def _main_group(text: str) -> int:
    try:
        requests = GROUP_REQUESTS.validate_json(text)
    except ValidationError as error:
        print(_unreadable(GROUP_ENV, error), file=sys.stderr)
        return 2
    problem = _unrunnable(requests, GROUP_ENV) if requests else f"{GROUP_ENV} lists no trial"
    if problem:
        print(problem, file=sys.stderr)
        return 2
    storage_url = os.environ["KUBETUNE_STORAGE_URL"]
    if requests[0].packing is None or requests[0].packing.mode != "fused":
        return _run_processes(requests, storage_url)
    requests = [r.model_copy(update={"storage_url": storage_url}) for r in requests]
    with ExitStack() as beats:
        for request in requests:
            assert request.trial_id is not None
            beats.enter_context(
                heartbeat(storage_url, request.trial_id, request.heartbeat_interval)
            )
        results = run_fused_group(requests)
        for request, result in zip(requests, results):
            assert request.trial_id is not None
            publish(storage_url, request.trial_id, result)
            _say(request, result)
    return 0


def _run_processes(requests: list[TrialRequest], storage_url: str) -> int:
    """Every member as a one-trial ``kubetune-trial`` of its own, all at once. A member whose process
    ends without its result (killed by the kernel for memory, a crash) is published as lost here."""
    children = []
    for request in requests:
        env = {k: v for k, v in os.environ.items() if k != GROUP_ENV}
        env[REQUEST_ENV] = request.model_dump_json()
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "kubetune.components.execution.pod_entrypoint"], env=env
            )
        )
    storage = shared_storage(storage_url)
    for request, child in zip(requests, children):
        code = child.wait()
        assert request.trial_id is not None
        if read_published(storage, request.trial_id) is not None:
            continue
        why = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        publish(
            storage_url,
            request.trial_id,
            TrialResult(
                trial_number=request.trial_number,
                state="FAIL",
                error=f"its trial process ended without a result ({why}; out of memory?); it runs again alone",
                retryable=True,
                retry_alone=True,
            ),
        )
    return 0


def _main_call(text: str) -> int:
    try:
        request = CallRequest.model_validate_json(text)
    except ValidationError as error:
        print(_unreadable(CALL_ENV, error), file=sys.stderr)
        return 2
    failure = run_call(request)
    print(f"batch {request.trial_number}: {'failed: ' + failure if failure else 'done'}")
    if failure:
        print(failure, file=sys.stderr)
        return TRIAL_ERROR_EXIT
    return 0


def _unreadable(variable: str, error: ValidationError) -> str:
    """A Job edited by hand, or made by another kubetune version: one line naming the field."""
    problem = error.errors()[0]
    where = ".".join(map(str, problem["loc"])) or "the request"
    return f"{variable} is not a request kubetune-trial can read: {where}: {problem['msg']}"


if __name__ == "__main__":
    sys.exit(main())
