"""A refit interrupted by a crash is settled by the next run of the study: finished when it had
registered its model, ended KILLED with the reason otherwise -- and the study keeps one refit, one
held-out evaluation and one model version. The interrupted states are made in the MLflow store as a
SIGKILL leaves them (a refit run RUNNING, with or without its registered version)."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from tests.conftest import run_cli, write_spec

pytestmark = pytest.mark.e2e

SPEC = """
study: once
data: {source: "sklearn:breast_cancer"}
model: {family: logistic_regression}
objective: {metric: roc_auc}
validation: {folds: 3}
search: {n_trials: 2, parallelism: 1, seed: 4}
"""


def tune(tmp_path, cli_env):
    result = run_cli(
        ["tune", str(tmp_path / "spec.yaml"), "--no-progress"], cwd=tmp_path, env=cli_env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def refit_runs(client):
    experiment = client.get_experiment_by_name("once")
    return client.search_runs([experiment.experiment_id], "tags.`kubetune.role` = 'refit'")


def test_an_interrupted_refit_is_finished_or_cleaned_up_and_the_study_keeps_one_model(
    tmp_path, cli_env
):
    write_spec(tmp_path / "spec.yaml", SPEC)
    tune(tmp_path, cli_env)
    client = MlflowClient(
        f"sqlite:///{tmp_path / 'mlflow.db'}", registry_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"
    )
    [refit] = refit_runs(client)
    assert len(client.search_model_versions("name = 'once'")) == 1

    # killed after it registered its model, before it ended its run
    client.update_run(refit.info.run_id, status="RUNNING")
    again = tune(tmp_path, cli_env)
    assert "kept: no new trials since it was trained" in again.stdout
    assert [(r.info.run_id, r.info.status) for r in refit_runs(client)] == [
        (refit.info.run_id, "FINISHED")
    ]
    assert len(client.search_model_versions("name = 'once'")) == 1

    # killed before it registered anything: a refit run with nothing but its tags
    parent_id = refit.data.tags["mlflow.parentRunId"]
    orphan = client.create_run(
        refit.info.experiment_id,
        run_name="refit",
        tags={"mlflow.parentRunId": parent_id, "kubetune.study": "once", "kubetune.role": "refit"},
    )
    tune(tmp_path, cli_env)
    states = {r.info.run_id: r for r in refit_runs(client)}
    assert states[orphan.info.run_id].info.status == "KILLED"
    assert (
        "interrupted before it registered its model"
        in states[orphan.info.run_id].data.tags["kubetune.failure_reason"]
    )
    assert states[refit.info.run_id].info.status == "FINISHED"
    assert [r.info.run_id for r in states.values() if r.info.status == "FINISHED"] == [
        refit.info.run_id
    ]
    assert len(client.search_model_versions("name = 'once'")) == 1
