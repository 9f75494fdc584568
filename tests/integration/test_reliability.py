"""Reliability of the data plane, through the real CLI: PostgreSQL study storage, S3 artifacts (moto's
server), a real MLflow tracking server. Figures from these scenarios are recorded in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState

from kubetune.components.execution import open_storage
from kubetune.components.execution.requeue import LOST_WITH_CONTROLLER, STALE_REASON
from tests.conftest import REPO, VENV_BIN, write_spec
from tests.services import AWS_SECRET, PG_PASSWORD

pytestmark = pytest.mark.e2e
FIGURES = Path(os.environ.get("KUBETUNE_RELIABILITY_FIGURES", "/tmp/kubetune-reliability.jsonl"))


def record(scenario: str, **figures: object) -> None:
    """Append the scenario's measured figures (a JSON line) for docs/reliability.md."""
    with FIGURES.open("a") as handle:
        handle.write(json.dumps({"scenario": scenario, **figures}) + "\n")


def sleep_spec(
    path: Path,
    name: str,
    n_trials: int,
    parallelism: int,
    sleep: tuple[float, float],
    heartbeat=(1, 4),
    extra: str = "",
) -> Path:
    return write_spec(
        path / f"{name}.yaml",
        f"""
study: {name}
data: {{source: "sklearn:breast_cancer"}}
model:
  family: tests.families:SleepFamily
  space: {{sleep: {{type: float, low: {sleep[0]}, high: {sleep[1]}}}}}
objective: {{metric: accuracy}}
validation: {{strategy: holdout}}
search: {{sampler: random, n_trials: {n_trials}, parallelism: {parallelism}, seed: 1, max_retries: 2}}
storage: {{heartbeat_interval: {heartbeat[0]}, grace_period: {heartbeat[1]}}}
tracking: {{experiment: {name}}}
{extra}""",
    )


@pytest.fixture
def plane(cli_env, s3, mlflow_server, postgres_url, tmp_path):
    env = {
        **cli_env,
        **s3.env(),
        "MLFLOW_TRACKING_URI": mlflow_server.url,
        "KUBETUNE_STORAGE_URL": postgres_url,
        "KUBETUNE_ARTIFACT_URI": "s3://kubetune-artifacts/runs",
    }
    return env


def start(spec: Path, cwd: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [str(VENV_BIN / "kubetune"), "tune", str(spec), "--no-progress"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(url))


def wait_until(predicate, timeout: float = 180, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (KeyError, ValueError, optuna.exceptions.StorageInternalError):
            pass  # study not created yet
        time.sleep(0.3)
    raise TimeoutError(f"waited {timeout} s for {what}")


def n_state(study_url: str, name: str, state: TrialState) -> int:
    return sum(t.state == state for t in load(study_url, name).trials)


def child_runs(tracking: str, name: str) -> list:
    client = MlflowClient(tracking)
    experiment = client.get_experiment_by_name(name)
    return client.search_runs(
        [experiment.experiment_id], "tags.`kubetune.role` = 'trial'", max_results=10_000
    )


def assert_one_run_per_trial(tracking: str, name: str, study: optuna.Study) -> None:
    runs = child_runs(tracking, name)
    numbers = [int(r.data.tags["kubetune.trial_number"]) for r in runs]
    assert sorted(numbers) == sorted(t.number for t in study.trials)
    for run in runs:  # every run closed, and it says what the study says
        trial = study.trials[int(run.data.tags["kubetune.trial_number"])]
        assert run.info.status != "RUNNING", (trial.number, trial.state)
        assert run.data.tags["kubetune.trial_state"] == trial.state.name, (
            trial.number,
            trial.state,
            run.data.tags,
        )


def test_full_data_plane_records_everything_and_leaks_no_credential(
    plane, mlflow_server, s3, tmp_path, postgres_url
):
    spec = REPO / "examples" / "breast_cancer_rf.yaml"
    result = subprocess.run(
        [
            str(VENV_BIN / "kubetune"),
            "tune",
            str(spec),
            "--n-trials",
            "6",
            "--study-name",
            "plane",
            "--no-progress",
        ],
        cwd=tmp_path,
        env=plane,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    client = MlflowClient(mlflow_server.url)
    experiment = client.get_experiment_by_name("breast-cancer")
    runs = client.search_runs(
        [experiment.experiment_id], "tags.`kubetune.study` = 'plane'", max_results=1000
    )
    roles = [r.data.tags["kubetune.role"] for r in runs]
    assert roles.count("study") == 1 and roles.count("trial") == 6 and roles.count("refit") == 1
    parent = next(r for r in runs if r.data.tags["kubetune.role"] == "study")
    assert parent.data.params["train_data_uri"].startswith("s3://kubetune-artifacts/runs/plane/")
    assert parent.data.params["study_storage"].startswith("postgresql://postgres:***@127.0.0.1")
    objects = {
        o["Key"]
        for o in s3.client()
        .list_objects_v2(Bucket="kubetune-artifacts", Prefix="runs/plane/")
        .get("Contents", [])
    }
    assert any(k.endswith("train.parquet") for k in objects) and any(
        k.endswith("test.parquet") for k in objects
    )
    models = s3.client().list_objects_v2(Bucket="mlflow-artifacts").get("Contents", [])
    assert any(o["Key"].endswith("model.pkl") for o in models), (
        "the model went to the S3 artifact root"
    )
    # the study's record for later warm starts went the same way, through the server to S3
    assert parent.data.tags["kubetune.meta_store_record"] == "meta_store_record.json"
    assert any(
        o["Key"].endswith(f"{parent.info.run_id}/artifacts/meta_store_record.json") for o in models
    )
    record = json.loads(
        Path(
            client.download_artifacts(parent.info.run_id, "meta_store_record.json", str(tmp_path))
        ).read_text()
    )
    assert len(record["configs"]) == 6 and record["metric"] == "roc_auc"
    assert len(load(postgres_url, "plane").trials) == 6
    # no credential anywhere a user or an operator would look
    seen = [result.stdout, result.stderr, mlflow_server.log.read_text()]
    for run in runs:
        seen += [json.dumps(run.data.params), json.dumps(run.data.tags)]
    seen.append(
        Path(client.download_artifacts(parent.info.run_id, "spec.yaml", str(tmp_path))).read_text()
    )
    for secret in (PG_PASSWORD, AWS_SECRET):
        assert not any(secret in text for text in seen), f"a credential leaked: {secret[:4]}..."


def test_bad_endpoints_stop_before_any_trial_and_name_the_endpoint(cli_env, s3, tmp_path):
    spec = REPO / "examples" / "breast_cancer_rf.yaml"
    cases = [
        (
            {"KUBETUNE_STORAGE_URL": f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:1/x"},
            "storage.url: cannot open postgresql://postgres:***@127.0.0.1:1/x",
        ),
        (
            {"MLFLOW_TRACKING_URI": "http://127.0.0.1:1"},
            "tracking.mlflow_uri: cannot reach the MLflow server at http://127.0.0.1:1",
        ),
        (
            {
                **s3.env(),
                "KUBETUNE_ARTIFACT_URI": "s3://kubetune-artifacts/x",
                "KUBETUNE_S3_ENDPOINT_URL": "http://127.0.0.1:1",
            },
            "artifacts.uri: cannot reach s3://kubetune-artifacts (endpoint http://127.0.0.1:1)",
        ),
        ({**s3.env(), "KUBETUNE_ARTIFACT_URI": "s3://missing-bucket/x"}, "artifacts.uri: S3 said"),
    ]
    for extra, expected in cases:
        result = subprocess.run(
            [str(VENV_BIN / "kubetune"), "tune", str(spec), "--no-progress"],
            cwd=tmp_path,
            env={**cli_env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, (extra, result.stderr)
        assert result.stderr.startswith(f"kubetune: error: {expected}"), result.stderr
        assert PG_PASSWORD not in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / ".kubetune").exists() and not (tmp_path / "mlflow.db").exists()


def test_a_two_controllers_eight_workers_200_trials_one_postgres_study(
    plane, mlflow_server, postgres_url, tmp_path
):
    spec = sleep_spec(tmp_path, "crowd", 200, 4, (0.0, 0.0))
    started = time.monotonic()
    first = start(spec, tmp_path, plane)
    wait_until(
        lambda: len(load(postgres_url, "crowd").trials) > 0,
        what="the first controller's first trial",
    )
    second = start(spec, tmp_path, plane)
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    elapsed = time.monotonic() - started
    assert first.returncode == 0 and second.returncode == 0, outputs
    study = load(postgres_url, "crowd")
    numbers = [t.number for t in study.trials]
    assert numbers == list(range(len(numbers))), "duplicate or missing trial numbers"
    retried = [
        (t.number, t.state.name, t.user_attrs)
        for t in study.trials
        if t.state != TrialState.COMPLETE or "kubetune.retry_of" in t.user_attrs
    ]
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 200, (retried, outputs)
    # a trial lost under load (stale heartbeat) is re-run: its failed attempt does not use the budget
    successors = [t for t in study.trials if "kubetune.retry_of" in t.user_attrs]
    assert all(
        t.state == TrialState.COMPLETE
        or t.number in {s.user_attrs["kubetune.retry_of"] for s in successors}
        for t in study.trials
    ), retried
    assert len(study.trials) - len(successors) == 200, ("the budget was overshot", retried)
    assert_one_run_per_trial(mlflow_server.url, "crowd", study)
    by_controller = {}
    for run in child_runs(mlflow_server.url, "crowd"):
        by_controller.setdefault(run.data.tags["mlflow.parentRunId"], 0)
        by_controller[run.data.tags["mlflow.parentRunId"]] += 1
    record(
        "a",
        trials=200,
        controllers=2,
        workers=8,
        seconds=round(elapsed, 1),
        duplicate_numbers=0,
        lost=0,
        trials_per_parent_run=sorted(by_controller.values()),
    )


def test_b_controller_sigkilled_then_rerun_resumes(plane, mlflow_server, postgres_url, tmp_path):
    spec = sleep_spec(tmp_path, "killed", 12, 2, (0.8, 1.0))
    process = start(spec, tmp_path, plane)
    wait_until(
        lambda: n_state(postgres_url, "killed", TrialState.COMPLETE) >= 4, what="4 finished trials"
    )
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    before = load(postgres_url, "killed").trials
    done_before = {t.number for t in before if t.state == TrialState.COMPLETE}
    running_before = {t.number: t.params for t in before if t.state == TrialState.RUNNING}
    assert running_before, "the kill should have caught trials in flight"

    started = time.monotonic()
    result = subprocess.run(
        [str(VENV_BIN / "kubetune"), "tune", str(spec), "--no-progress"],
        cwd=tmp_path,
        env=plane,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    study = load(postgres_url, "killed")
    complete = {t.number for t in study.trials if t.state == TrialState.COMPLETE}
    assert done_before <= complete and len(complete) == 12
    for number, params in running_before.items():
        assert study.trials[number].state == TrialState.FAIL
        successors = [t for t in study.trials if t.user_attrs.get("kubetune.retry_of") == number]
        # the same parameters as far as they had been chosen: a kill between ask and suggest leaves some unset
        assert successors and params.items() <= successors[0].params.items(), (
            params,
            successors and successors[0].params,
        )
        assert successors[0].state == TrialState.COMPLETE
    assert_one_run_per_trial(mlflow_server.url, "killed", study)
    client = MlflowClient(mlflow_server.url)
    experiment = client.get_experiment_by_name("killed")
    assert (
        len(client.search_runs([experiment.experiment_id], "tags.`kubetune.role` = 'study'")) == 1
    )
    stale_runs = [
        r
        for r in child_runs(mlflow_server.url, "killed")
        if int(r.data.tags["kubetune.trial_number"]) in running_before
    ]
    assert len(stale_runs) == len(running_before)
    # closed, with the reason the study recorded: orphaned at start (on the trial), or lost with its
    # controller (on its re-run, which says why it runs again)
    for run in stale_runs:
        trial = study.trials[int(run.data.tags["kubetune.trial_number"])]
        successor = next(
            t for t in study.trials if t.user_attrs.get("kubetune.retry_of") == trial.number
        )
        expected = (
            trial.user_attrs.get("kubetune.failure_reason")
            or successor.user_attrs["kubetune.retry_reason"]
        )
        assert expected in (LOST_WITH_CONTROLLER, STALE_REASON) or "orphan" in expected, expected
        assert run.info.status in ("FAILED", "KILLED"), (trial.number, run.info.status)
        assert (
            run.data.tags["kubetune.trial_state"] == "FAIL"
            and run.data.tags["kubetune.failure_reason"] == expected
        ), run.data.tags
    record(
        "b",
        trials_finished_before_kill=len(done_before),
        trials_in_flight_at_kill=len(running_before),
        reconciled_and_rerun=len(running_before),
        rerun_seconds=round(time.monotonic() - started, 1),
        duplicated_runs=0,
    )


def _worker_pids(parent: int) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-P", str(parent), "-f", "multiprocessing.spawn"], capture_output=True, text=True
    )
    return [int(p) for p in out.stdout.split()]


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_c_worker_lost_mid_trial_is_failed_and_rerun(plane, postgres_url, tmp_path, how):
    """SIGKILL: the process dies and the executor sees it. SIGSTOP: the worker hangs (as on a frozen
    node), only its heartbeat stops, and the trial is failed through the heartbeat."""
    name = f"worker-{how.lower()}"
    spec = sleep_spec(tmp_path, name, 6, 2, (2.0, 2.5), heartbeat=(1, 3))
    process = start(spec, tmp_path, plane)
    wait_until(
        lambda: (
            n_state(postgres_url, name, TrialState.RUNNING) >= 2
            and len(_worker_pids(process.pid)) >= 2
        ),
        what="trials running",
    )
    time.sleep(0.5)
    victim = _worker_pids(process.pid)[0]
    lost_at = time.monotonic()
    os.kill(victim, getattr(signal, how))
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    study = load(postgres_url, name)
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(failed) == 1, [(t.number, t.user_attrs) for t in failed]
    reason = failed[0].user_attrs.get("kubetune.failure_reason", "")
    successor = next(
        t for t in study.trials if t.user_attrs.get("kubetune.retry_of") == failed[0].number
    )
    if how == "SIGKILL":
        assert "worker process was killed by SIGKILL" in reason
    else:
        assert successor.user_attrs["kubetune.retry_reason"].startswith(
            "its worker stopped heartbeating"
        )
    assert successor.params == failed[0].params and successor.state == TrialState.COMPLETE
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 6
    detected = (
        (successor.datetime_start.timestamp() - failed[0].datetime_complete.timestamp())
        if failed[0].datetime_complete
        else None
    )
    record(
        f"c-{how}",
        failed=1,
        rerun_with_same_params=True,
        seconds_from_loss_to_study_end=round(time.monotonic() - lost_at, 1),
        seconds_fail_to_rerun=round(detected, 2) if detected is not None else None,
    )


def test_d_postgres_restarted_mid_study(cli_env, private_postgres, tmp_path):
    from tests.services import create_database, pg_url

    url = pg_url(create_database(private_postgres.port), private_postgres.port)
    env = {**cli_env, "KUBETUNE_STORAGE_URL": url}
    spec = sleep_spec(tmp_path, "pg-restart", 12, 2, (0.5, 0.7), heartbeat=(1, 15))
    process = start(spec, tmp_path, env)
    wait_until(
        lambda: n_state(url, "pg-restart", TrialState.COMPLETE) >= 3, what="3 finished trials"
    )
    restarted_at = time.monotonic()
    private_postgres.restart(down_seconds=3)
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    study = load(url, "pg-restart")
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 12
    record(
        "d",
        downtime_seconds=3,
        study_finished=True,
        trials=len(study.trials),
        failed=sum(t.state == TrialState.FAIL for t in study.trials),
        seconds_after_restart=round(time.monotonic() - restarted_at, 1),
    )


def test_e_s3_down_during_trials_fails_them_clearly_and_the_study_goes_on(
    cli_env, s3, postgres_url, tmp_path
):
    env = {
        **cli_env,
        **s3.env(),
        "KUBETUNE_STORAGE_URL": postgres_url,
        "KUBETUNE_ARTIFACT_URI": "s3://kubetune-artifacts/runs",
    }
    spec = sleep_spec(tmp_path, "s3-down", 16, 2, (0.3, 0.4))
    process = start(spec, tmp_path, env)
    wait_until(
        lambda: n_state(postgres_url, "s3-down", TrialState.COMPLETE) >= 3, what="3 finished trials"
    )
    s3.stop()
    try:
        wait_until(
            lambda: n_state(postgres_url, "s3-down", TrialState.FAIL) >= 2,
            timeout=120,
            what="trials failing while S3 is down",
        )
    finally:
        s3.start()
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    study = load(postgres_url, "s3-down")
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(study.trials) == 16 and failed
    for trial in failed:
        assert (
            "cannot reach s3://kubetune-artifacts/runs/s3-down/"
            in trial.user_attrs["kubetune.failure_reason"]
        )
        assert f"(endpoint {s3.url})" in trial.user_attrs["kubetune.failure_reason"]
    record(
        "e",
        trials=16,
        failed_while_s3_down=len(failed),
        completed=sum(t.state == TrialState.COMPLETE for t in study.trials),
    )


def test_f_controller_killed_three_times_with_the_same_trial_in_flight(
    plane, postgres_url, tmp_path
):
    """A controller SIGKILL (workers and all) used to count as one of the in-flight trial's retries:
    three crashes failed that configuration for good and the study ended a trial short. A trial lost
    with its controller is re-run without using a retry; the study completes every trial."""
    spec = sleep_spec(tmp_path, "crashes", 3, 1, (4.0, 5.0), heartbeat=(1, 3))
    kills = 0
    for _ in range(3):
        before = len(load(postgres_url, "crashes").trials) if kills else 0
        process = subprocess.Popen(
            [str(VENV_BIN / "kubetune"), "tune", str(spec), "--no-progress"],
            cwd=tmp_path,
            env=plane,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(
            lambda: any(
                t.state == TrialState.RUNNING
                and "kubetune.controller" in t.user_attrs
                and t.number >= before
                for t in load(postgres_url, "crashes").trials
            ),
            what="a trial in flight",
        )
        time.sleep(1.0)
        os.killpg(process.pid, signal.SIGKILL)  # the controller and its worker processes
        process.wait(timeout=30)
        kills += 1
    result = subprocess.run(
        [str(VENV_BIN / "kubetune"), "tune", str(spec), "--no-progress"],
        cwd=tmp_path,
        env=plane,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    study = load(postgres_url, "crashes")
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    rerun = {
        int(t.user_attrs["kubetune.retry_of"])
        for t in study.trials
        if "kubetune.retry_of" in t.user_attrs
    }
    assert len(failed) >= 3 and all(t.number in rerun for t in failed), (
        "a configuration failed for good"
    )
    reasons = [
        t.user_attrs["kubetune.retry_reason"]
        for t in study.trials
        if "kubetune.retry_of" in t.user_attrs
    ]
    assert reasons and all("its controller stopped" in reason for reason in reasons), reasons
    assert all(
        int(t.user_attrs.get("kubetune.attempt", 1)) == 1 for t in study.trials
    )  # no retry used
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 3
    record("f", controller_kills=kills, trials_failed_for_good=0, retries_used=0)
