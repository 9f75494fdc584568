"""`tune -v` shows Prefect's and MLflow's own log lines; none of them may carry the tracking URI's password
(MLflow printed every run link with the URI as written: user:password@host)."""

from __future__ import annotations

from tests.conftest import run_cli, write_spec

SECRET = "Mlflow-Secret-77c1e9"


def test_verbose_output_never_shows_the_tracking_uris_password(tmp_path, cli_env, mlflow_server):
    url = mlflow_server.url.replace("http://", f"http://kubetune:{SECRET}@")
    spec = write_spec(
        tmp_path / "spec.yaml",
        """
study: verbose-secret
data: {source: "sklearn:breast_cancer", target: target}
model: {family: logistic_regression}
objective: {metric: roc_auc}
search: {n_trials: 2, parallelism: 1, seed: 3}
""",
    )
    result = run_cli(
        ["tune", str(spec), "-v", "--no-progress"],
        cwd=tmp_path,
        env={**cli_env, "MLFLOW_TRACKING_URI": url},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "  mlflow: http://127.0.0.1:" in result.stdout
    )  # the summary names the run page without the credentials
    assert SECRET not in result.stdout + result.stderr


def test_passwords_in_the_spec_reach_neither_prefect_nor_mlflow(
    tmp_path, cli_env, mlflow_server, postgres_url
):
    """A spec may name its stores with passwords in the URLs. The flow run's parameters (the spec, as
    Prefect stores and shows them) carry neither password, nor do its task runs, its logs or MLflow."""
    import mlflow
    import requests

    storage_secret, tracking_secret = "Storage-Secret-4a1d", "Tracking-Secret-9b2e"
    storage = postgres_url.replace(
        postgres_url.split("//")[1].split("@")[0], f"postgres:{storage_secret}"
    )
    tracking = mlflow_server.url.replace("http://", f"http://kubetune:{tracking_secret}@")
    spec = write_spec(
        tmp_path / "spec.yaml",
        f"""
study: secret-params
data: {{source: "sklearn:breast_cancer", target: target}}
model: {{family: logistic_regression}}
objective: {{metric: roc_auc}}
search: {{n_trials: 2, parallelism: 1, seed: 3}}
storage: {{url: "{storage}"}}
tracking: {{mlflow_uri: "{tracking}"}}
""",
    )
    env = {
        k: v for k, v in cli_env.items() if k not in ("KUBETUNE_STORAGE_URL", "MLFLOW_TRACKING_URI")
    }
    result = run_cli(["tune", str(spec), "--no-progress"], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    api = cli_env["PREFECT_API_URL"]
    flow_runs = requests.post(f"{api}/flow_runs/filter", json={}, timeout=30).json()
    ours = [
        run
        for run in flow_runs
        if run["parameters"].get("spec", {}).get("study") == "secret-params"
    ]
    assert len(ours) == 1
    assert ours[0]["state_type"] == "COMPLETED"
    assert (
        ours[0]["parameters"]["spec"].get("storage", {}).get("url") is None
    )  # it went to the environment
    recorded = [
        requests.post(f"{api}/flow_runs/filter", json={}, timeout=30).text,
        requests.post(f"{api}/task_runs/filter", json={}, timeout=30).text,
        requests.post(f"{api}/logs/filter", json={}, timeout=30).text,
        result.stdout + result.stderr,
    ]
    for text in recorded:
        assert storage_secret not in text and tracking_secret not in text
    client = mlflow.MlflowClient(mlflow_server.url)
    [experiment] = [e for e in client.search_experiments() if e.name == "secret-params"]
    runs = client.search_runs([experiment.experiment_id])
    roles = sorted(run.data.tags["kubetune.role"] for run in runs)
    assert roles == [
        "refit",
        "study",
        "trial",
        "trial",
    ]  # parent, 2 trials, refit: none holds a secret
    for run in runs:
        everything = str(run.data.params) + str(run.data.tags)
        assert storage_secret not in everything and tracking_secret not in everything
