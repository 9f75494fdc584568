"""``kubetune tune`` end to end: real CLI process, real Prefect server, real worker processes, and
assertions made by reading what a user would read — the MLflow store and the files."""

import json
import signal
import subprocess
import time

import mlflow
import pandas as pd
import pytest

from kubetune.components.tracking import open_client
from tests.conftest import REPO, VENV_BIN, run_cli, write_spec

pytestmark = pytest.mark.e2e
EXAMPLE = REPO / "examples" / "breast_cancer_rf.yaml"


def store(cwd):
    """The folder's MLflow store, opened as kubetune opens it: a study starting in the same folder may be
    creating its tables right now, and two first opens at once must not both migrate them."""
    return open_client(f"sqlite:///{cwd / 'mlflow.db'}")


def runs_by_role(client, experiment):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=10_000)
    by_role = {}
    for run in runs:
        by_role.setdefault(run.data.tags.get("kubetune.role"), []).append(run)
    return by_role


def test_example_runs_end_to_end_and_mlflow_holds_every_run(tmp_path, cli_env):
    result = run_cli(
        ["tune", str(EXAMPLE), "--n-trials", "12", "--parallelism", "2", "--no-progress"],
        cwd=tmp_path,
        env=cli_env,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "study breast-cancer-rf: best trial #" in result.stdout
        and "held-out test:" in result.stdout
    )

    client = store(tmp_path)
    roles = runs_by_role(client, "breast-cancer")
    [parent] = roles["study"]
    trials, [refit] = roles["trial"], roles["refit"]

    # parent: spec, fingerprint, git commit, seed, package versions
    assert parent.info.status == "FINISHED"
    assert parent.data.params["seed"] == "42" and parent.data.params["n_trials"] == "12"
    assert len(parent.data.params["data_fingerprint"]) == 64
    assert "mlflow.source.git.commit" in parent.data.tags
    assert (
        parent.data.tags["kubetune.version.optuna"]
        and parent.data.tags["kubetune.version.scikit-learn"]
    )
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"spec.yaml", "search_space.json", "environment", "split"} <= artifacts

    # one child per trial, nested, with per-fold and summary metrics
    assert len(trials) == 12
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {parent.info.run_id}
    assert sorted(int(r.data.tags["kubetune.trial_number"]) for r in trials) == list(range(12))
    for run in trials:
        assert run.data.tags["kubetune.trial_state"] == "COMPLETE"
        assert {"n_estimators", "max_depth", "criterion"} <= set(run.data.params)
        assert {f"roc_auc_fold_{i}" for i in range(5)} | {
            "roc_auc",
            "roc_auc_std",
            "duration_s",
            "peak_memory_mb",
        } <= set(run.data.metrics)

    # refit: held-out metric, the model with signature + input example, registered
    assert refit.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert 0.9 < refit.data.metrics["test_roc_auc"] <= 1.0
    best_score = max(r.data.metrics["roc_auc"] for r in trials)
    chosen = next(
        r
        for r in trials
        if r.data.tags["kubetune.trial_number"] == refit.data.params["best_trial_number"]
    )
    assert chosen.data.metrics["roc_auc"] == refit.data.metrics["cv_roc_auc"]
    # the search's best, or the finalist the repeated CV preferred (said on the study's run)
    finalists = {
        r.data.tags["kubetune.finalist"] for r in runs_by_role(client, "breast-cancer")["finalist"]
    }
    assert chosen.data.metrics["roc_auc"] == best_score or (
        f"trial {chosen.data.tags['kubetune.trial_number']}" in finalists
        and "best_mean: " in parent.data.tags["kubetune.analysis.selection"]
    )
    versions = client.search_model_versions("name='breast-cancer-rf'")
    assert len(versions) == 1 and versions[0].run_id == refit.info.run_id
    # the best trial is marked, and the registry page says what the version is and how it scored
    assert [r for r in trials if r.data.tags.get("kubetune.best_trial") == "true"] == [chosen]
    version_tags = versions[0].tags
    assert version_tags["kubetune.study"] == "breast-cancer-rf"
    assert version_tags["kubetune.data_fingerprint"] == parent.data.params["data_fingerprint"]
    assert version_tags["kubetune.refit_run_id"] == refit.info.run_id
    assert float(version_tags["kubetune.test_roc_auc"]) == pytest.approx(
        refit.data.metrics["test_roc_auc"], rel=1e-5
    )
    description = versions[0].description
    assert description.startswith("**random_forest** tuned by kubetune study `breast-cancer-rf`")
    assert f"test_roc_auc {refit.data.metrics['test_roc_auc']:.4f}" in description
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    info = mlflow.models.get_model_info(f"models:/breast-cancer-rf/{versions[0].version}")
    assert info.signature is not None and info.saved_input_example_info is not None
    model = mlflow.pyfunc.load_model(f"models:/breast-cancer-rf/{versions[0].version}")
    test_rows = pd.read_parquet(tmp_path / ".kubetune" / "breast-cancer-rf" / "test.parquet")
    assert len(model.predict(test_rows.drop(columns=["target"]))) == len(test_rows)
    requirements = (
        open(
            mlflow.artifacts.download_artifacts(
                f"models:/breast-cancer-rf/{versions[0].version}/requirements.txt",
                dst_path=str(tmp_path / "req"),
            )
        )
        .read()
        .split()
    )
    from importlib.metadata import version

    assert f"scikit-learn=={version('scikit-learn')}" in requirements and not any(
        r.startswith(("torch", "kubetune")) for r in requirements
    )

    # no held-out row reached any trial: the data the trials read holds exactly the logged train rows
    downloaded = mlflow.artifacts.download_artifacts(
        run_id=parent.info.run_id, artifact_path="split/row_ids.json", dst_path=str(tmp_path / "dl")
    )
    split = json.loads(open(downloaded).read())
    train_seen = pd.read_parquet(parent.data.params["train_data_uri"]).index
    assert not set(train_seen) & set(split["test"])
    assert sorted(train_seen) == sorted(split["train"]) and set(test_rows.index) == set(
        split["test"]
    )


def test_failing_trials_are_recorded_and_the_study_finishes(tmp_path, cli_env):
    # p = 0 is no Minkowski distance: only scikit-learn's fit says so, so the trial fails, not the spec
    spec = write_spec(
        tmp_path / "knn.yaml",
        """
study: knn-some-fail
data: {source: "sklearn:breast_cancer"}
model:
  family: knn
  space: {p: {type: int, low: 0, high: 2}}
objective: {metric: accuracy}
validation: {strategy: stratified_kfold, folds: 3}
search: {sampler: random, n_trials: 10, parallelism: 2, seed: 3}
""",
    )
    result = run_cli(["tune", str(spec), "--no-progress"], cwd=tmp_path, env=cli_env)
    assert result.returncode == 0, result.stderr
    trials = runs_by_role(store(tmp_path), "knn-some-fail")["trial"]
    states = [r.data.tags["kubetune.trial_state"] for r in trials]
    assert len(trials) == 10 and "FAIL" in states and "COMPLETE" in states
    for run in trials:
        failed = run.data.tags["kubetune.trial_state"] == "FAIL"
        assert failed == (run.data.params["p"] == "0")
        if failed:
            assert run.info.status == "FAILED"
            assert run.data.tags["kubetune.failure_reason"].startswith(
                "InvalidParameterError: The 'p' parameter"
            )


def test_knn_default_space_fits_a_small_dataset_so_no_trial_fails(tmp_path, cli_env):
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame.sample(45, random_state=0)[
        ["mean radius", "mean texture", "target"]
    ]
    data.to_csv(tmp_path / "small.csv", index=False)
    spec = write_spec(
        tmp_path / "knn.yaml",
        """
study: knn-small
data: {source: small.csv}
model: {family: knn}
objective: {metric: accuracy}
search: {sampler: random, n_trials: 12, seed: 0}
warm_start: none
""",
    )
    result = run_cli(["tune", str(spec), "--no-progress"], cwd=tmp_path, env=cli_env)
    assert result.returncode == 0, result.stderr
    client = store(tmp_path)
    roles = runs_by_role(client, "knn-small")
    # 45 rows: 36 after the held-out 20%, and a 5-fold split trains on 28 of them at least
    space = client.download_artifacts(
        roles["study"][0].info.run_id, "search_space.json", str(tmp_path)
    )
    assert json.loads(open(space).read())["n_neighbors"]["high"] == 28
    assert len(roles["trial"]) == 12 and {
        r.data.tags["kubetune.trial_state"] for r in roles["trial"]
    } == {"COMPLETE"}
    assert max(int(r.data.params["n_neighbors"]) for r in roles["trial"]) <= 28


def test_every_trial_failing_exits_non_zero_and_says_why(tmp_path, cli_env):
    spec = write_spec(
        tmp_path / "knn.yaml",
        """
study: knn-all-fail
data: {source: "sklearn:breast_cancer"}
model:
  family: knn
  space: {p: {type: float, low: -2, high: -1}}
objective: {metric: accuracy}
search: {n_trials: 4, parallelism: 2}
""",
    )
    result = run_cli(["tune", str(spec), "--no-progress"], cwd=tmp_path, env=cli_env)
    assert result.returncode == 1
    assert (
        "kubetune: error: all 4 trials failed; first error: InvalidParameterError: The 'p' parameter"
        in result.stderr
    )
    [parent] = runs_by_role(store(tmp_path), "knn-all-fail")["study"]
    assert (
        parent.info.status == "FAILED"
        and "all 4 trials failed" in parent.data.tags["kubetune.failure_reason"]
    )


def test_same_spec_and_seed_give_the_same_sequence_at_parallelism_1(tmp_path, cli_env):
    spec = write_spec(
        tmp_path / "lr.yaml",
        """
data: {source: "sklearn:breast_cancer"}
model: {family: logistic_regression}
objective: {metric: roc_auc}
validation: {folds: 3}
search: {sampler: tpe, n_trials: 5, parallelism: 1, seed: 7}
tracking: {experiment: determinism}
warm_start: none   # otherwise the second study starts from the first one's best trials
""",
    )
    sequences = []
    for name in ("first", "second"):
        result = run_cli(
            ["tune", str(spec), "--study-name", name, "--no-progress"], cwd=tmp_path, env=cli_env
        )
        assert result.returncode == 0, result.stderr
        runs = [
            r
            for r in runs_by_role(store(tmp_path), "determinism")["trial"]
            if r.data.tags["kubetune.study"] == name
        ]
        runs.sort(key=lambda r: int(r.data.tags["kubetune.trial_number"]))
        sequences.append([(r.data.params, r.data.metrics["roc_auc"]) for r in runs])
    assert len(sequences[0]) == 5 and sequences[0] == sequences[1]


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(tmp_path, cli_env):
    spec = write_spec(
        tmp_path / "slow.yaml",
        """
study: interrupt-me
data: {source: "sklearn:breast_cancer"}
model:
  family: tests.families:SleepFamily
  space: {sleep: {type: float, low: 0.4, high: 0.5}}
objective: {metric: accuracy}
validation: {strategy: holdout}
search: {sampler: random, n_trials: 10, parallelism: 2}
""",
    )
    env = {**cli_env, "PYTHONPATH": str(REPO)}
    command = [str(VENV_BIN / "kubetune"), "tune", str(spec), "--no-progress"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    client = store(tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until some trials have finished
        time.sleep(0.5)
        if (tmp_path / "mlflow.db").exists():
            try:
                trials = runs_by_role(client, "interrupt-me").get("trial", [])
            except Exception:  # noqa: BLE001 - the store may still be initialising
                continue
            if sum(r.data.tags.get("kubetune.trial_state") == "COMPLETE" for r in trials) >= 3:
                break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "run the same command again to resume" in stderr and "Traceback" not in stderr
    first = {
        int(r.data.tags["kubetune.trial_number"]): r.data.tags["kubetune.trial_state"]
        for r in runs_by_role(client, "interrupt-me")["trial"]
    }
    completed_before = {n for n, s in first.items() if s == "COMPLETE"}
    assert 3 <= len(completed_before) < 10

    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    roles = runs_by_role(client, "interrupt-me")
    assert len(roles["study"]) == 1  # the parent run was resumed, not duplicated
    final = {
        int(r.data.tags["kubetune.trial_number"]): r.data.tags["kubetune.trial_state"]
        for r in roles["trial"]
    }
    assert sum(s == "COMPLETE" for s in final.values()) == 10
    assert completed_before <= {n for n, s in final.items() if s == "COMPLETE"}
    assert len(final) == len(set(final))  # one run per trial number


def test_a_finished_study_run_again_keeps_its_model_and_refuses_other_data(tmp_path, cli_env):
    """Re-running a finished study's command trains nothing new, so it keeps the registered version it has
    (no copy per re-run); the same study name over changed data is refused before anything runs."""
    from sklearn.datasets import load_breast_cancer

    data = tmp_path / "data.csv"
    load_breast_cancer(as_frame=True).frame.iloc[:300, [0, 1, 2, 3, -1]].to_csv(data, index=False)
    spec = write_spec(
        tmp_path / "spec.yaml",
        f"""
study: rerun-me
data: {{source: "{data}", target: target, task: classification}}
model: {{family: logistic_regression}}
objective: {{metric: roc_auc}}
validation: {{folds: 3}}
search: {{n_trials: 3, parallelism: 1, seed: 1}}
""",
    )
    first = run_cli(["tune", str(spec), "--no-progress"], cwd=tmp_path, env=cli_env)
    assert first.returncode == 0, first.stderr
    again = run_cli(["tune", str(spec), "--no-progress"], cwd=tmp_path, env=cli_env)
    assert again.returncode == 0, again.stderr
    assert (
        "(0 trials this run, 0 failed)" in again.stdout
        and "kept: no new trials since it was trained" in again.stdout
    )
    client = store(tmp_path)
    roles = runs_by_role(client, "rerun-me")
    [parent], [refit] = roles["study"], roles["refit"]
    assert parent.info.status == "FINISHED" and len(roles["trial"]) == 3
    assert [str(v.version) for v in client.search_model_versions("name = 'rerun-me'")] == ["1"]
    assert f"rerun-me version 1 (refit run {refit.info.run_id}" in again.stdout
    assert parent.data.metrics["test_roc_auc"] == refit.data.metrics["test_roc_auc"]

    load_breast_cancer(as_frame=True).frame.iloc[:200, [0, 1, 2, 3, -1]].to_csv(data, index=False)
    changed = run_cli(["tune", str(spec), "--no-progress"], cwd=tmp_path, env=cli_env)
    assert changed.returncode == 2
    [line] = changed.stderr.strip().splitlines()
    assert line.startswith("kubetune: error: study 'rerun-me' was run on other data (fingerprint ")
    after = runs_by_role(client, "rerun-me")  # nothing recorded is lost, nothing new was started
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    assert len(after["trial"]) == 3 and len(after["refit"]) == 1 and len(after["study"]) == 1

    # `kubetune retrain` names its study after the data, so the same spec on the changed data runs (its
    # preflight checks that versioned study, not the base name whose study holds the old data)
    retrained = run_cli(["retrain", str(spec), "--no-progress"], cwd=tmp_path, env=cli_env)
    assert retrained.returncode == 0, retrained.stderr[-3000:]
    assert (
        "study rerun-me-" in retrained.stdout
        and "(3 trials this run, 0 failed)" in retrained.stdout
    )
    assert sorted(str(v.version) for v in client.search_model_versions("name = 'rerun-me'")) == [
        "1",
        "2",
    ]
