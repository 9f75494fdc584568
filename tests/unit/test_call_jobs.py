"""The pod side of KubetuneSearchCV's Jobs: ``kubetune-trial`` with KUBETUNE_CALL_REQUEST runs the
cloudpickled batch from the artifact store and writes its value, or its error, next to it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cloudpickle
import pytest

from kubetune.components.core import CallRequest, TrialResult
from kubetune.components.execution.call_jobs import RemoteCallError, read_output


def run_pod(tmp_path: Path, call) -> tuple[subprocess.CompletedProcess, CallRequest]:
    request = CallRequest(
        study_name="s",
        trial_number=0,
        call_uri=str(tmp_path / "batch.pkl"),
        output_uri=str(tmp_path / "batch.out.pkl"),
    )
    if call is not None:
        (tmp_path / "batch.pkl").write_bytes(cloudpickle.dumps(call))
    done = subprocess.run(
        [str(Path(sys.executable).with_name("kubetune-trial"))],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "KUBETUNE_CALL_REQUEST": request.model_dump_json(),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, request


def test_a_batch_runs_and_its_value_comes_back(tmp_path):
    scale = 3  # a closure defined here travels by value

    def batch():
        import numpy as np

        return [float(np.sum(np.arange(4) * scale))]

    done, request = run_pod(tmp_path, batch)
    assert done.returncode == 0, done.stderr
    assert read_output(request, TrialResult(trial_number=0, state="COMPLETE")) == [18.0]


def test_an_error_in_the_batch_is_raised_again_where_the_search_runs(tmp_path):
    def batch():
        raise ValueError("Solver lbfgs supports only 'l2' or None penalties, got l1 penalty.")

    done, request = run_pod(tmp_path, batch)
    assert done.returncode == 3
    assert done.stderr.strip().splitlines()[-1].startswith("ValueError: Solver lbfgs")
    with pytest.raises(ValueError, match="Solver lbfgs supports only"):
        read_output(request, TrialResult(trial_number=0, state="COMPLETE"))


def test_a_pod_that_wrote_nothing_is_named_with_its_reason(tmp_path):
    request = CallRequest(
        study_name="grid",
        trial_number=4,
        call_uri=str(tmp_path / "b.pkl"),
        output_uri=str(tmp_path / "none.pkl"),
    )
    lost = TrialResult(trial_number=4, state="FAIL", error="OOMKilled: the trial ran out of memory")
    with pytest.raises(RemoteCallError) as raised:
        read_output(request, lost)
    assert str(raised.value) == (
        "batch 4 of search 'grid' ran in no pod to the end: OOMKilled: the trial ran out of memory"
    )


def test_a_batch_the_pod_cannot_load_is_one_line_and_exit_3(tmp_path):
    (tmp_path / "batch.pkl").write_bytes(b"not a pickle")
    done, request = run_pod(tmp_path, None)
    assert done.returncode == 3
    assert "cannot load the batch: UnpicklingError" in done.stderr
