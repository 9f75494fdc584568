"""``kubetune tune`` with no Prefect server configured, as on a laptop: the command starts Prefect's
throwaway server itself while it checks the data (flows.prefect_server), runs the flow against it and
takes it down when it ends -- also when the data is refused before any work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import run_cli, write_spec

pytestmark = pytest.mark.e2e

SERVER_APP = b"prefect.server.api.server:create_app"


def prefect_servers() -> set[int]:
    """Process ids of Prefect API servers running on this machine."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if SERVER_APP in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def laptop_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "KUBETUNE_", "PREFECT_API"))
    }
    return {**env, "PREFECT_HOME": str(tmp_path / "prefect-home"), "DO_NOT_TRACK": "1"}


def spec_text(target: str) -> str:
    return f"""
study: laptop
data: {{source: "sklearn:iris", target: {target}}}
model: {{family: logistic_regression}}
objective: {{metric: accuracy}}
validation: {{strategy: stratified_kfold, folds: 3}}
search: {{sampler: tpe, n_trials: 3, parallelism: 2, seed: 0}}
tracking: {{mlflow_uri: sqlite:///mlflow.db, experiment: laptop}}
warm_start: none
"""


def test_a_study_runs_on_the_server_the_command_starts_and_stops(tmp_path):
    before = prefect_servers()
    spec = write_spec(tmp_path / "spec.yaml", spec_text("target"))
    result = run_cli(["tune", str(spec), "--no-progress"], cwd=tmp_path, env=laptop_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "study laptop:" in result.stdout
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("laptop")
    trials = client.search_runs(
        [experiment.experiment_id], "tags.`kubetune.role` = 'trial'", max_results=10
    )
    assert len(trials) == 3 and all(r.info.status == "FINISHED" for r in trials)
    assert prefect_servers() <= before  # the server the command started is gone with it
    # the flow run was recorded by that server, in the user's Prefect home
    assert (tmp_path / "prefect-home").is_dir()


def test_refused_data_stops_the_server_started_for_it(tmp_path):
    before = prefect_servers()
    # the spec is valid: the target column is missing from the data, which only reading it shows
    spec = write_spec(tmp_path / "spec.yaml", spec_text("species_name"))
    result = run_cli(["tune", str(spec), "--no-progress"], cwd=tmp_path, env=laptop_env(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "species_name" in lines[0], result.stderr
    assert prefect_servers() <= before
    assert not (tmp_path / "mlflow.db").exists()  # nothing recorded for a refused spec
