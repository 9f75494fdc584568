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
