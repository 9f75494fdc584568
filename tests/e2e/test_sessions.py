"""A resumed study and a second controller continue the search: each controller session's sampler has
a seed of its own, so neither draws the configurations already in the study again. Journal file and
PostgreSQL storage, through the real CLI."""

from __future__ import annotations

import subprocess

import optuna
import pytest
from mlflow import MlflowClient

from kubetune.components.execution import open_storage
from tests.conftest import VENV_BIN, run_cli, write_spec

pytestmark = pytest.mark.e2e

SPEC = """
study: sessions
data: {source: "sklearn:breast_cancer"}
model: {family: logistic_regression}
objective: {metric: roc_auc}
validation: {folds: 3}
search: {sampler: tpe, n_trials: 3, parallelism: 1, seed: 7}
warm_start: none
"""


def configurations(url: str) -> list[tuple]:
    study = optuna.load_study(study_name="sessions", storage=open_storage(url))
    return [tuple(sorted(t.params.items())) for t in study.trials]


@pytest.fixture(params=["journal", "postgresql"])
def storage(request, tmp_path):
    if request.param == "journal":
        return f"journal://{tmp_path / 'studies.journal'}"
    return request.getfixturevalue("postgres_url")


def test_a_resumed_study_draws_configurations_it_has_not_tried(tmp_path, cli_env, storage):
    spec = write_spec(tmp_path / "spec.yaml", SPEC)
    env = {**cli_env, "KUBETUNE_STORAGE_URL": storage}
    for n_trials in ("3", "6"):
        result = run_cli(
            ["tune", str(spec), "--n-trials", n_trials, "--no-progress"], cwd=tmp_path, env=env
        )
        assert result.returncode == 0, result.stderr[-3000:]
    tried = configurations(storage)
    assert len(tried) == 6
    assert len(set(tried)) == 6, f"repeated configurations: {tried}"


def test_two_controllers_started_together_do_not_repeat_each_other(
    tmp_path, cli_env, postgres_url, mlflow_server
):
    """Both open a new database at once: one creates Optuna's tables and the study, the other finds them."""
    # with the analysis stage: the second controller must also keep the first's refit when the
    # finalists chose a configuration other than the search's best
    spec = write_spec(
        tmp_path / "spec.yaml",
        SPEC.replace("n_trials: 3", "n_trials: 8") + "analysis: {finalists: 3, repeats: 1}\n",
    )
    env = {
        **cli_env,
        "KUBETUNE_STORAGE_URL": postgres_url,
        "MLFLOW_TRACKING_URI": mlflow_server.url,
    }
    command = [str(VENV_BIN / "kubetune"), "tune", str(spec), "--no-progress"]
    controllers = [
        subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [c.communicate(timeout=600) for c in controllers]
    assert all(c.returncode == 0 for c in controllers), [err[-2000:] for _, err in outputs]
    tried = configurations(postgres_url)
    assert len(tried) == 8
    assert len(set(tried)) == 8, f"repeated configurations: {tried}"
    # one refit, one held-out evaluation and one model version for the study, not one per controller
    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    experiment = client.get_experiment_by_name("sessions")
    refits = client.search_runs([experiment.experiment_id], "tags.`kubetune.role` = 'refit'")
    assert [r.info.status for r in refits] == ["FINISHED"]
    assert len(client.search_model_versions("name = 'sessions'")) == 1
