"""``kubetune.tune`` as a notebook calls it: the CLI's pipeline from Python, a StudyResult back, the
trials as a DataFrame, the same one-line errors (as one exception type) with nothing recorded."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import pytest

pytestmark = pytest.mark.e2e

SPEC = {
    "study": "wine-from-python",
    "data": {"source": "sklearn:wine", "target": "target"},
    "model": {
        "family": "logistic_regression",
        "space": {"C": {"type": "float", "low": 0.01, "high": 10, "log": True}},
    },
    "objective": {"metric": "accuracy"},
    "validation": {"strategy": "stratified_kfold", "folds": 3},
    "search": {"n_trials": 20, "seed": 3, "parallelism": 1},
    "tracking": {"mlflow_uri": "sqlite:///mlflow.db", "experiment": "wine-python"},
}

PROGRAM = """
import json, sys
import kubetune
spec = json.loads(sys.argv[1])
try:
    result = kubetune.tune(spec, **json.loads(sys.argv[2]))
except kubetune.KubetuneError as error:
    print(json.dumps({"error": str(error), "type": type(error).__name__}))
    sys.exit(0)
print(json.dumps({
    "study": result.study, "best_params": result.best_params, "best_trial": result.best_trial,
    "cv": result.cv, "test": result.test, "parent": result.parent_run_id, "refit": result.refit_run_id,
    "model_uri": result.model_uri, "run_url": result.run_url, "analysis": list(result.analysis),
    "trials": result.trials[["number", "value", "state"]].to_dict(orient="records"),
    "params_columns": [c for c in result.trials.columns if c.startswith("params_")],
}))
"""


def run_program(tmp_path, env, program, *arguments):
    """A notebook's cells as one Python program in a fresh process; what its last line printed (JSON)."""
    done = subprocess.run(
        [sys.executable, "-c", program, *(json.dumps(a) for a in arguments)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def call_tune(tmp_path, env, spec, **overrides):
    return run_program(tmp_path, env, PROGRAM, spec, overrides)


def test_tune_from_python_returns_the_study_and_its_trials(cli_env, tmp_path):
    result = call_tune(tmp_path, cli_env, SPEC, n_trials=5, sampler="random")
    assert result["study"] == "wine-from-python"
    # the overrides won over the spec's 20 trials and its sampler
    assert len(result["trials"]) == 5 and result["params_columns"] == ["params_C"]
    assert {t["state"] for t in result["trials"]} == {"COMPLETE"}
    # the refit takes one of the search's five best, the one the finalists' repeated CV chose
    ranked = sorted(result["trials"], key=lambda t: -t["value"])
    chosen = next(t for t in result["trials"] if t["number"] == result["best_trial"])
    assert chosen["value"] >= ranked[min(4, len(ranked) - 1)]["value"]
    assert result["cv"]["cv_accuracy"] == pytest.approx(chosen["value"])
    assert result["analysis"][0].startswith("held-out accuracy: tuned ")
    assert 0.8 < result["test"]["test_accuracy"] <= 1.0
    assert result["model_uri"] == "models:/wine-from-python/1"

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    parent = client.get_run(result["parent"])
    assert parent.data.params["sampler"] == "random" and parent.data.params["n_trials"] == "5"
    assert client.get_run(result["refit"]).data.metrics["test_accuracy"] == pytest.approx(
        result["test"]["test_accuracy"]
    )
    assert client.get_model_version("wine-from-python", "1").run_id == result["refit"]


@pytest.mark.parametrize(
    "change, overrides, message",
    [
        (
            {
                "model": {
                    "family": "logistic_regression",
                    "space": {"C": {"type": "float", "low": 10, "high": 1}},
                }
            },
            {},
            "model.space.C: low (10) is greater than high (1)",
        ),
        ({}, {"n_trails": 3}, "tune: no override 'n_trails' (one of experiment, n_trials"),
        ({}, {"search.sampler": "bayes"}, "search.sampler:"),
    ],
)
def test_bad_input_is_one_kubetune_error_and_nothing_is_recorded(
    cli_env, tmp_path, change, overrides, message
):
    result = call_tune(tmp_path, cli_env, SPEC | change, **overrides)
    assert result["error"].startswith(message), result["error"]
    assert "\n" not in result["error"]
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / ".kubetune").exists()


def test_a_script_that_calls_tune_unguarded_is_told_what_to_change(cli_env, tmp_path):
    """Spawned workers import the main module again; an unguarded top-level call would start a job in
    each of them. The worker says why in one line and the job fails with a KubetuneError."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import json, kubetune\n"
        f"spec = json.loads({json.dumps(json.dumps(SPEC))})\n"
        "kubetune.tune(spec, n_trials=2)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert (
        "kubetune.components.core.errors.KubetuneError: tune: called while a worker process imported your "
        'script; put the call under if __name__ == "__main__":' in done.stderr
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "kubetune.components.core.errors.KubetuneError: a worker process exited while starting (exit code 1); its error is printed above"
    )


TWO_JOBS = """
import json, os, sys
import kubetune
first, second = json.loads(sys.argv[1]), json.loads(sys.argv[2])
names = ("MLFLOW_TRACKING_URI", "KUBETUNE_STORAGE_URL", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT")
if __name__ == "__main__":
    kubetune.tune(first)
    after_first = {name: os.environ.get(name) for name in names}
    result = kubetune.tune(second)
    print(json.dumps({"after_first": after_first, "second_parent": result.parent_run_id}))
"""


def test_a_password_in_one_jobs_tracking_uri_does_not_send_the_next_job_there(
    cli_env, tmp_path, mlflow_server
):
    """A URL with a password goes to MLFLOW_TRACKING_URI for the job (Prefect stores the spec), and
    that variable wins over any spec: left set, a notebook's next job, whatever its spec named, was
    recorded on the first job's tracking server."""
    secret = "Notebook-Secret-51c3"
    on_server = SPEC | {
        "study": "on-the-server",
        "search": {"n_trials": 2, "seed": 3, "parallelism": 1},
        "tracking": {
            "mlflow_uri": mlflow_server.url.replace("http://", f"http://kubetune:{secret}@"),
            "experiment": "on-the-server",
        },
        "analysis": "none",
        "warm_start": "none",
    }
    local = on_server | {
        "study": "in-the-folder",
        "tracking": {"mlflow_uri": "sqlite:///local.db", "experiment": "in-the-folder"},
    }
    env = {
        k: v for k, v in cli_env.items() if k not in ("MLFLOW_TRACKING_URI", "KUBETUNE_STORAGE_URL")
    }
    printed = run_program(tmp_path, env, TWO_JOBS, on_server, local)
    assert printed["after_first"] == dict.fromkeys(printed["after_first"])  # all put back: unset

    uri = f"sqlite:///{tmp_path / 'local.db'}"
    local_store = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert (
        local_store.get_run(printed["second_parent"]).data.tags["kubetune.study"] == "in-the-folder"
    )
    server = mlflow.MlflowClient(mlflow_server.url)
    assert server.get_experiment_by_name("on-the-server") is not None
    assert server.get_experiment_by_name("in-the-folder") is None
