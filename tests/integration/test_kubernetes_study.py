"""Whole studies with ``executor: kubernetes`` through the real CLI, against the stateful API server and
the test kubelet: failures injected, the controller killed and restarted, objects left behind counted."""

from __future__ import annotations

import re
import signal
import subprocess
import time

import kubernetes_validate
import optuna
import pytest
from optuna.trial import TrialState

from kubetune.components.execution import open_storage
from tests.conftest import REPO, VENV_BIN, write_spec
from tests.k8s.fake_api import FakeKubeAPI
from tests.k8s.kubelet import TestKubelet

pytestmark = pytest.mark.e2e
NAMESPACE = "kubetune"


@pytest.fixture
def k8s(cli_env, postgres_url, tmp_path):
    api = FakeKubeAPI().start()
    behaviours: dict[str, str] = {}
    kubelet = TestKubelet(
        api,
        NAMESPACE,
        {"kubetune-study-db": {"url": postgres_url}},
        behaviour=lambda job: behaviours.get(job["metadata"]["labels"]["kubetune.io/trial"], "run"),
        extra_env={"PYTHONPATH": str(REPO), "DO_NOT_TRACK": "1"},
    ).start()
    env = {
        **cli_env,
        "KUBECONFIG": api.kubeconfig(tmp_path / "kubeconfig"),
        "KUBETUNE_STORAGE_URL": postgres_url,
    }
    yield api, behaviours, env
    kubelet.stop()
    api.stop()


def spec_for(
    tmp_path,
    name,
    family="tests.families:SleepFamily",
    space="{sleep: {type: float, low: 0.2, high: 0.4}}",
    n_trials=9,
    extra="",
    analysis="none",  # the finalists' Jobs have a test of their own, below
):
    return write_spec(
        tmp_path / f"{name}.yaml",
        f"""
study: {name}
data: {{source: "sklearn:breast_cancer"}}
model: {{family: "{family}", space: {space}}}
objective: {{metric: accuracy}}
validation: {{strategy: holdout}}
search: {{sampler: random, n_trials: {n_trials}, parallelism: 3, seed: 5, max_retries: 2}}
storage: {{heartbeat_interval: 1, grace_period: 10}}
artifacts: {{uri: {tmp_path / "volume"}}}
analysis: {analysis}
executor:
  kind: kubernetes
  kubernetes: {{namespace: {NAMESPACE}, unschedulableTimeout: 3{extra}}}
""",
    )


def run(spec, tmp_path, env, timeout=600):
    return subprocess.run(
        [str(VENV_BIN / "kubetune"), "tune", str(spec), "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def jobs_created(api: FakeKubeAPI) -> list[dict]:
    """Every Job body the API server is asked to create from now on, as sent."""
    seen: list[dict] = []
    original = api.state.create

    def spy(plural, namespace, body):
        if plural == "jobs":
            seen.append(body)
        return original(plural, namespace, body)

    api.state.create = spy
    return seen


def nothing_left(api: FakeKubeAPI) -> None:
    assert api.state.list("jobs", NAMESPACE, None)["items"] == [], "Jobs left behind"
    assert api.state.list("pods", NAMESPACE, None)["items"] == [], "pods left behind"


def test_study_with_injected_failures_at_parallelism_3(k8s, tmp_path):
    api, behaviours, env = k8s
    behaviours.update({"1": "oom", "2": "evict"})
    spec = spec_for(
        tmp_path,
        "k8s-mixed",
        family="tests.families:RaiseFamily",
        space="{x: {type: float, low: 0.0, high: 0.7}}",
    )
    result = run(spec, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(
        study_name="k8s-mixed", storage=open_storage(env["KUBETUNE_STORAGE_URL"])
    )
    trials = {t.number: t for t in study.trials}
    assert (
        "OOMKilled: the trial ran out of memory" in trials[1].user_attrs["kubetune.failure_reason"]
    )
    assert (
        "was disrupted (EvictionByEvictionAPI)" in trials[2].user_attrs["kubetune.failure_reason"]
    )
    rerun = next(t for t in study.trials if t.user_attrs.get("kubetune.retry_of") == 2)
    assert rerun.params == trials[2].params and rerun.state in (
        TrialState.COMPLETE,
        TrialState.FAIL,
    )
    broken = [t for t in study.trials if t.state == TrialState.FAIL and t.number not in (1, 2)]
    assert broken and all(
        t.params["x"] > 0.5
        and "RuntimeError: configuration" in t.user_attrs["kubetune.failure_reason"]
        for t in broken
    )
    assert all(t.params["x"] <= 0.5 for t in study.trials if t.state == TrialState.COMPLETE)
    created = [
        name for verb, plural, _, name in api.state.audit if verb == "create" and plural == "jobs"
    ]
    assert len(created) == len(study.trials) == len(set(created))  # one Job per trial, never two
    nothing_left(api)


def test_the_finalists_run_as_trial_jobs_of_their_own_study(k8s, tmp_path):
    """The analysis stage's fits go through the same executor: a Job per finalist, labelled with the
    finalists' study, each running its repeats; the study's own trials are left as the search made them."""
    api, behaviours, env = k8s
    behaviours["1"] = (
        "oom"  # the search's trial 1, and also the finalists' second Job: one failure each
    )
    spec = spec_for(
        tmp_path,
        "k8s-finalists",
        n_trials=5,
        analysis="{finalists: 3, repeats: 2}",
    )
    result = run(spec, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    storage = open_storage(env["KUBETUNE_STORAGE_URL"])
    searched = optuna.load_study(study_name="k8s-finalists", storage=storage)
    finalists = optuna.load_study(study_name="k8s-finalists-finalists", storage=storage)
    assert searched.trials and not any("kubetune.finalist" in t.user_attrs for t in searched.trials)
    labels = [t.user_attrs["kubetune.finalist"] for t in finalists.trials]
    assert len(labels) == 4 and labels[-1] == "default"
    # the OOM-killed finalist Job is a failed finalist, and the analysis went on without it
    states = [t.state for t in finalists.trials]
    assert states[1] == TrialState.FAIL and states.count(TrialState.COMPLETE) >= 2
    created = [
        name for verb, plural, _, name in api.state.audit if verb == "create" and plural == "jobs"
    ]
    finalist_jobs = [n for n in created if n.startswith("kt-k8s-finalists-finalists-")]
    assert len(finalist_jobs) == 4 == len(set(finalist_jobs))
    assert "the runner-up" in result.stdout
    nothing_left(api)


def test_every_created_job_validates_and_carries_no_credential(k8s, tmp_path):
    api, _, env = k8s
    seen = jobs_created(api)
    result = run(spec_for(tmp_path, "k8s-valid", n_trials=3), tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(seen) == 3
    password = env["KUBETUNE_STORAGE_URL"].split(":")[2].split("@")[0]
    for job in seen:
        for version in ("1.30", "1.37"):
            kubernetes_validate.validate(job, version, strict=True)
        assert password not in str(job)
    nothing_left(api)


@pytest.mark.parametrize(
    "mode, message, extra",
    [
        (
            "image_pull",
            re.escape(
                "the study stopped early: the trial image kubetune-trial:0.1.0 cannot be pulled (ErrImagePull"
            ),
            "",
        ),
        (
            "unschedulable",
            re.escape(
                "the study stopped early: trial pods stayed unschedulable for 3 s: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
            ),
            "",
        ),
        (
            "config_error",
            re.escape(
                'the study stopped early: trial pods cannot start their container (CreateContainerConfigError: secret "kubetune-study-db" not found); '
                "check the Secrets and ConfigMaps the trial pods use in namespace kubetune"
            ),
            "",
        ),
        (
            "stuck_creating",
            r"the study stopped early: trial pod (kt-k8s-stuck-creating-[a-z0-9-]+) was scheduled but its container did not start within 4 s "
            r"\(ContainerCreating\); see kubectl describe pod \1 -n kubetune ",
            ", startTimeout: 4",
        ),
    ],
)
def test_cluster_problems_stop_the_study_early_with_a_clear_message(
    k8s, tmp_path, mode, message, extra
):
    api, behaviours, env = k8s
    behaviours.update({str(n): mode for n in range(9)})
    started = time.monotonic()
    result = run(
        spec_for(tmp_path, f"k8s-{mode.replace('_', '-')}", extra=extra), tmp_path, env, timeout=180
    )
    assert result.returncode == 1 and re.search(f"kubetune: error: {message}", result.stderr), (
        result.stderr[-2000:]
    )
    assert time.monotonic() - started < 150  # stopped, not hung
    nothing_left(api)


def test_a_pod_pending_longer_than_the_grace_period_is_not_taken_for_a_lost_trial(k8s, tmp_path):
    """A GPU node scaling up or a large image keeps a pod Pending for minutes; its trial cannot heartbeat
    yet. The controller beats for it, so it is neither failed as stale nor started a second time."""
    api, behaviours, env = k8s
    behaviours.update({"0": "slow_start"})  # Pending 15 s; the grace period is 10 s
    result = run(spec_for(tmp_path, "k8s-slow-start", n_trials=3), tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stopped heartbeating" not in result.stderr
    study = optuna.load_study(
        study_name="k8s-slow-start", storage=open_storage(env["KUBETUNE_STORAGE_URL"])
    )
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3, [
        (t.number, t.state.name, t.user_attrs) for t in study.trials
    ]
    first = study.trials[0]
    assert (
        first.datetime_complete - first.datetime_start
    ).total_seconds() > 15  # it did wait, and was kept
    created = [
        name for verb, plural, _, name in api.state.audit if verb == "create" and plural == "jobs"
    ]
    assert len(created) == 3, created  # no second Job for the slow trial
    nothing_left(api)


def kill_the_controller_once_jobs_run(spec, tmp_path, env, api: FakeKubeAPI, jobs: int) -> None:
    """Start the study and SIGKILL its controller a second after ``jobs`` of its Jobs exist."""
    process = subprocess.Popen(
        [str(VENV_BIN / "kubetune"), "tune", str(spec), "--no-progress"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline and len(api.state.list("jobs", NAMESPACE, None)["items"]) < jobs
    ):
        time.sleep(0.3)
    time.sleep(1.0)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_controller_killed_mid_study_adopts_running_jobs(k8s, tmp_path):
    api, _, env = k8s
    spec = spec_for(
        tmp_path, "k8s-restart", space="{sleep: {type: float, low: 2.0, high: 3.0}}", n_trials=6
    )
    kill_the_controller_once_jobs_run(spec, tmp_path, env, api, jobs=3)
    in_flight = {
        j["metadata"]["labels"]["kubetune.io/trial"]
        for j in api.state.list("jobs", NAMESPACE, None)["items"]
    }
    assert in_flight, "Jobs should still be running after the controller died"
    result = run(spec, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "adopted" in result.stderr
    study = optuna.load_study(
        study_name="k8s-restart", storage=open_storage(env["KUBETUNE_STORAGE_URL"])
    )
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 6
    created = [
        name for verb, plural, _, name in api.state.audit if verb == "create" and plural == "jobs"
    ]
    assert len(created) == len(set(created)), "a Job was created twice"
    with_job = {int(name.rsplit("-t", 1)[1]) for name in created}
    assert all(t.number in with_job for t in study.trials if t.state == TrialState.COMPLETE)
    # the only trial that may have no Job: one the killed controller had asked ahead (every worker was
    # busy) and not started yet; its heartbeat went stale, and it was failed and run again
    without_job = [t for t in study.trials if t.number not in with_job]
    retried = {t.user_attrs.get("kubetune.retry_of") for t in study.trials}
    assert len(without_job) <= 1
    assert all(t.state == TrialState.FAIL and t.number in retried for t in without_job)
    nothing_left(api)


def test_warm_start_trials_run_as_jobs_and_keep_their_provenance(k8s, tmp_path):
    from mlflow import MlflowClient

    api, _, env = k8s
    assert run(spec_for(tmp_path, "k8s-before", n_trials=3), tmp_path, env).returncode == 0
    result = run(
        spec_for(tmp_path, "k8s-after", n_trials=4), tmp_path, env
    )  # same pipeline, run again
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    trial_runs = {
        r.info.run_id: r
        for r in client.search_runs(experiment_ids, "tags.`kubetune.role` = 'trial'")
    }
    warm = [
        r
        for r in trial_runs.values()
        if r.data.tags["kubetune.study"] == "k8s-after"
        and "kubetune.warm_start.source_run_id" in r.data.tags
    ]
    assert len(warm) == 2
    for trial_run in warm:
        source = trial_runs[trial_run.data.tags["kubetune.warm_start.source_run_id"]]
        assert (
            source.data.tags["kubetune.study"] == "k8s-before"
            and trial_run.data.params == source.data.params
        )
        assert (
            trial_run.data.tags["kubetune.trial_state"] == "COMPLETE"
        )  # it ran as a Job and was told
    created = [
        name for verb, plural, _, name in api.state.audit if verb == "create" and plural == "jobs"
    ]
    assert len(created) == 3 + 4
    nothing_left(api)


def test_pruned_trials_end_their_pods_early_and_are_recorded_pruned(k8s, tmp_path):
    from mlflow import MlflowClient

    api, _, env = k8s
    spec = spec_for(
        tmp_path,
        "k8s-pruned",
        family="torch_mlp",
        n_trials=8,
        space="{lr: {type: float, low: 0.00001, high: 0.05, log: true}, width: {type: int, low: 4, high: 64, log: true}}",
    )
    text = spec.read_text().replace(
        'model: {family: "torch_mlp",', 'model: {family: "torch_mlp", params: {epochs: 12},'
    )
    text = text.replace(
        "max_retries: 2}",
        "max_retries: 2, pruner: {kind: successive_halving, reduction_factor: 3}}",
    )
    spec.write_text(text)
    result = run(spec, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(
        study_name="k8s-pruned", storage=open_storage(env["KUBETUNE_STORAGE_URL"])
    )
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert pruned and complete and len(pruned) + len(complete) == 8
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs = {
        int(r.data.tags["kubetune.trial_number"]): r
        for r in client.search_runs(
            experiment_ids,
            "tags.`kubetune.study` = 'k8s-pruned' and tags.`kubetune.role` = 'trial'",
        )
    }
    for trial in pruned:
        run_ = runs[trial.number]
        assert run_.data.tags["kubetune.trial_state"] == "PRUNED" and run_.data.tags[
            "kubetune.pruned_at_step"
        ] == str(max(trial.intermediate_values))
        # training stopped at the pruned epoch (no later epoch was reported) and the pod exited 0 with its
        # published result: a failed pod would have been recorded FAIL with the kubelet's reason
        assert max(trial.intermediate_values) < 12 and sorted(trial.intermediate_values) == list(
            range(1, max(trial.intermediate_values) + 1)
        )
        # stopped early: "Killed" in the MLflow UI (not a green "Finished"), with the score it had reached
        assert run_.info.status == "KILLED" and "kubetune.failure_reason" not in run_.data.tags
        assert (
            run_.data.metrics["accuracy_when_pruned"]
            == trial.intermediate_values[max(trial.intermediate_values)]
        )
        assert "cv_accuracy" not in run_.data.metrics
    for trial in complete:
        assert runs[trial.number].data.metrics["cv_accuracy"] == trial.value
        assert sorted(trial.intermediate_values) == list(range(1, 13))
    assert (
        len(
            [
                name
                for verb, plural, _, name in api.state.audit
                if verb == "create" and plural == "jobs"
            ]
        )
        == 8
    )
    nothing_left(api)


def test_population_based_training_runs_its_rounds_as_jobs(k8s, tmp_path):
    from mlflow import MlflowClient

    api, _, env = k8s
    spec = spec_for(
        tmp_path,
        "k8s-pbt",
        family="torch_mlp",
        space="{lr: {type: float, low: 0.0001, high: 0.05, log: true}, width: {type: int, low: 4, high: 32}}",
    )
    spec.write_text(
        spec.read_text().replace(
            "search: {sampler: random, n_trials: 9,",
            "search: {strategy: pbt, pbt: {population: 3, generations: 2, interval: 2},",
        )
    )
    result = run(spec, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(
        experiment_ids, "tags.`kubetune.study` = 'k8s-pbt' and tags.`kubetune.role` = 'trial'"
    )
    assert len(runs) == 6 and all(r.data.tags["kubetune.trial_state"] == "COMPLETE" for r in runs)
    [copied] = [r for r in runs if r.data.tags["kubetune.pbt.exploited"] == "True"]
    assert (
        tmp_path / copied.data.tags["kubetune.pbt.checkpoint_in"]
    ).is_file()  # written by another member's pod
    assert (
        copied.data.tags["kubetune.pbt.generation"] == "1"
        and copied.data.tags["kubetune.pbt.copied_at_epoch"] == "2"
    )
    created = [
        name for verb, plural, _, name in api.state.audit if verb == "create" and plural == "jobs"
    ]
    assert len(created) == 6
    nothing_left(api)

    # run again (same pipeline): the warm start seeds one member of three, in its pod, with its provenance
    again = spec.read_text().replace("study: k8s-pbt", "study: k8s-pbt-again")
    assert run(write_spec(tmp_path / "again.yaml", again), tmp_path, env).returncode == 0
    first = {r.info.run_id: r for r in runs}
    experiment_ids = [
        e.experiment_id for e in client.search_experiments()
    ]  # the study's own experiment
    rerun = client.search_runs(
        experiment_ids, "tags.`kubetune.study` = 'k8s-pbt-again' and tags.`kubetune.role` = 'trial'"
    )
    seeded = [r for r in rerun if "kubetune.warm_start.source_run_id" in r.data.tags]
    assert len(rerun) == 6 and len(seeded) == 1
    (member,) = seeded
    source = first[member.data.tags["kubetune.warm_start.source_run_id"]]
    assert (
        member.data.tags["kubetune.pbt.member"] == "0"
        and member.data.tags["kubetune.pbt.generation"] == "0"
    )
    assert member.data.tags["kubetune.trial_state"] == "COMPLETE"  # it ran as a Job and was told
    assert {k: member.data.params[k] for k in ("lr", "width")} == {
        k: source.data.params[k] for k in ("lr", "width")
    }
    nothing_left(api)


def test_a_population_whose_image_cannot_be_pulled_fails_its_parent_run_with_the_reason(
    k8s, tmp_path
):
    """Population-based training and sampled search share one orchestration: a cluster problem ends
    either one the same way -- the parent run FAILED with the reason, the command exits 1, nothing left."""
    from mlflow import MlflowClient

    api, behaviours, env = k8s
    behaviours.update({str(n): "image_pull" for n in range(6)})
    spec = spec_for(
        tmp_path,
        "k8s-pbt-pull",
        family="torch_mlp",
        space="{lr: {type: float, low: 0.0001, high: 0.05, log: true}}",
    )
    spec.write_text(
        spec.read_text().replace(
            "search: {sampler: random, n_trials: 9,",
            "search: {strategy: pbt, pbt: {population: 3, generations: 2, interval: 2},",
        )
    )
    result = run(spec, tmp_path, env, timeout=180)
    reason = "the study stopped early: the trial image kubetune-trial:0.1.0 cannot be pulled (ErrImagePull"
    assert result.returncode == 1 and f"kubetune: error: {reason}" in result.stderr, result.stderr[
        -2000:
    ]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    [parent] = client.search_runs(
        experiment_ids, "tags.`kubetune.study` = 'k8s-pbt-pull' and tags.`kubetune.role` = 'study'"
    )
    assert parent.info.status == "FAILED"
    assert parent.data.tags["kubetune.failure_reason"].startswith(reason)
    nothing_left(api)


def _created_jobs(api: FakeKubeAPI) -> list[str]:
    return [
        name for verb, plural, _, name in api.state.audit if verb == "create" and plural == "jobs"
    ]


def test_a_fused_study_runs_one_job_per_group_with_one_gpu(k8s, tmp_path):
    """Eight torch_mlp trials in groups of four: two Jobs, each one pod with one trial's resources,
    its members in its annotation; every member its own trial and run, pruned members PRUNED; the
    two finalists of the analysis stage a Job each, unpacked."""
    from mlflow import MlflowClient

    api, _, env = k8s
    seen = jobs_created(api)
    spec = spec_for(
        tmp_path,
        "k8s-fused",
        family="torch_mlp",
        n_trials=8,
        space="{lr: {type: float, low: 0.0001, high: 0.05, log: true}, width: {type: int, low: 4, high: 64, log: true}}",
        extra=", resources: {requests: {cpu: 1, nvidia.com/gpu: 1}, limits: {nvidia.com/gpu: 1}}",
        analysis="{finalists: 2, repeats: 1, baseline: false}",
    )
    text = spec.read_text().replace(
        'model: {family: "torch_mlp",', 'model: {family: "torch_mlp", params: {epochs: 9},'
    )
    text = text.replace(
        "max_retries: 2}",
        "max_retries: 2, pruner: {kind: successive_halving, reduction_factor: 3}}",
    )
    spec.write_text(text + "  packing: {trials: 4, mode: fused}\n")
    result = run(spec, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(
        study_name="k8s-fused", storage=open_storage(env["KUBETUNE_STORAGE_URL"])
    )
    assert len(study.trials) == 8
    assert {t.state for t in study.trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert len(seen) == 4 == len(_created_jobs(api))
    finalist_jobs = [j for j in seen if j["metadata"]["name"].startswith("kt-k8s-fused-finalists-")]
    group_jobs = [j for j in seen if j not in finalist_jobs]
    # the analysis stage's finalists run one per Job, never packed
    assert len(finalist_jobs) == 2
    for job in finalist_jobs:
        assert "kubetune.io/members" not in job["metadata"].get("annotations", {})
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert [e["name"] for e in container["env"]][0] == "KUBETUNE_TRIAL_REQUEST"
    password = env["KUBETUNE_STORAGE_URL"].split(":")[2].split("@")[0]
    assert password not in str(finalist_jobs)
    assert len(group_jobs) == 2
    for job in group_jobs:
        kubernetes_validate.validate(job, "1.30", strict=True)
        assert password not in str(job)
        members = job["metadata"]["annotations"]["kubetune.io/members"].split(",")
        assert len(members) == 4 and job["metadata"]["labels"]["kubetune.io/trial"] == members[0]
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert [e["name"] for e in container["env"]][0] == "KUBETUNE_TRIAL_GROUP"
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs = {
        int(r.data.tags["kubetune.trial_number"]): r
        for r in client.search_runs(
            experiment_ids, "tags.`kubetune.study` = 'k8s-fused' and tags.`kubetune.role` = 'trial'"
        )
    }
    assert sorted(runs) == list(range(8))
    for trial in study.trials:
        tags = runs[trial.number].data.tags
        assert (
            tags["kubetune.packing.mode"] == "fused"
            and tags["kubetune.trial_state"] == trial.state.name
        )
    nothing_left(api)


def test_a_packed_group_killed_for_memory_runs_its_members_again_alone(k8s, tmp_path):
    """Trials 0-2 share a pod that is OOMKilled: each is recorded failed with the reason and runs again
    in a Job of its own (not a mark against its configuration); trials 3-5 complete packed."""
    api, behaviours, env = k8s
    behaviours["0"] = "oom"
    spec = spec_for(tmp_path, "k8s-packed-oom", n_trials=6)
    # a grace period no slow pod start outlasts on a loaded machine: only the OOM kill may re-run a trial
    text = spec.read_text().replace("grace_period: 10", "grace_period: 120")
    spec.write_text(text + "  packing: {trials: 3, mode: processes}\n")
    result = run(spec, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(
        study_name="k8s-packed-oom", storage=open_storage(env["KUBETUNE_STORAGE_URL"])
    )
    by_number = {t.number: t for t in study.trials}
    assert len(by_number) == 9
    for number in (0, 1, 2):
        lost = by_number[number]
        assert lost.state == TrialState.FAIL
        assert "OOMKilled" in lost.user_attrs["kubetune.failure_reason"]
        assert "each runs again alone" in lost.user_attrs["kubetune.failure_reason"]
    retries = [t for t in study.trials if "kubetune.retry_of" in t.user_attrs]
    assert sorted(t.user_attrs["kubetune.retry_of"] for t in retries) == [0, 1, 2]
    for retry in retries:
        assert retry.state == TrialState.COMPLETE and retry.user_attrs["kubetune.packing.alone"]
        assert "kubetune.packing.group" not in retry.user_attrs
        assert retry.params == by_number[retry.user_attrs["kubetune.retry_of"]].params
    assert [by_number[n].state for n in (3, 4, 5)] == [TrialState.COMPLETE] * 3
    assert len(_created_jobs(api)) == 5  # two groups, then three trials alone
    nothing_left(api)


def test_a_restarted_controller_adopts_packed_groups_with_all_their_members(k8s, tmp_path):
    """The controller dies while two packed Jobs run: the next run adopts each group from its members
    annotation, so every member finishes as the trial it was -- none is run again, no Job is made twice."""
    api, _, env = k8s
    spec = spec_for(
        tmp_path,
        "k8s-packed-restart",
        space="{sleep: {type: float, low: 3.0, high: 4.0}}",
        n_trials=6,
    )
    spec.write_text(spec.read_text() + "  packing: {trials: 3, mode: processes}\n")
    kill_the_controller_once_jobs_run(spec, tmp_path, env, api, jobs=2)
    groups = {
        job["metadata"]["name"]: job["metadata"]["annotations"]["kubetune.io/members"]
        for job in api.state.list("jobs", NAMESPACE, None)["items"]
    }
    assert sorted(groups.values()) == ["0,1,2", "3,4,5"], groups
    result = run(spec, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "adopted" in result.stderr
    study = optuna.load_study(
        study_name="k8s-packed-restart", storage=open_storage(env["KUBETUNE_STORAGE_URL"])
    )
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6
    assert not any("kubetune.retry_of" in t.user_attrs for t in study.trials)
    assert {t.user_attrs["kubetune.packing.group"] for t in study.trials} == {"g0", "g3"}
    assert sorted(_created_jobs(api)) == sorted(groups)  # the two groups' Jobs, each made once
    nothing_left(api)
