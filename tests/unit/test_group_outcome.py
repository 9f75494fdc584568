"""What a packed group's pod means for each of its members: the Kubernetes executor reads the pod's
status and each member's published result; no API server is needed for that reading."""

from kubetune.components.core import TrialResult
from kubetune.components.execution import KubernetesExecutor
from kubetune.components.spec import KubernetesSpec


def _pod(phase: str, exit_code: int, reason: str) -> dict:
    terminated = {"exitCode": exit_code, "reason": reason}
    return {
        "metadata": {"name": "kubetune-trial-g-0"},
        "status": {"phase": phase, "containerStatuses": [{"state": {"terminated": terminated}}]},
    }


def _outcomes(pod: dict, published: dict[int, TrialResult]) -> dict[int, TrialResult]:
    executor = KubernetesExecutor(KubernetesSpec(namespace="kubetune"), "s", 1, published.get)
    pod_outcome = TrialResult(trial_number=0, state="FAIL", error="OOMKilled: out of memory")
    return {r.trial_number: r for r in executor._group_outcome(pod_outcome, pod, [0, 1, 2])}


def test_members_that_finished_before_their_pod_was_oomkilled_keep_their_results():
    done = TrialResult(trial_number=1, state="COMPLETE", value=0.9)
    outcomes = _outcomes(_pod("Failed", 137, "OOMKilled"), {1: done})
    assert outcomes[1] == done
    for lost in (outcomes[0], outcomes[2]):
        assert lost.state == "FAIL" and lost.retryable and lost.retry_alone
        assert "packed with 2 other trial(s); each runs again alone" in lost.error


def test_a_group_pod_that_crashed_fails_its_members_with_its_reason_and_no_retry_alone():
    outcomes = _outcomes(_pod("Failed", 1, "Error"), {})
    assert sorted(outcomes) == [0, 1, 2]
    assert all(r.state == "FAIL" and not r.retry_alone for r in outcomes.values())
