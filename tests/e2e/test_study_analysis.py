"""The end of a study as a data scientist reads it: finalists re-scored on repeated cross-validation,
the significance of the winner, held-out intervals beside the defaults', importances, plots and the
report -- read back from a real MLflow server and opened in headless Chromium."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.datasets import make_classification

from tests.browser import open_page
from tests.conftest import run_cli, write_spec

pytestmark = pytest.mark.e2e


def synthetic_csv(path):
    """Data no other test or benchmark uses: informative and noise features, some label noise."""
    X, y = make_classification(
        n_samples=500, n_features=10, n_informative=4, flip_y=0.05, random_state=11
    )
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)])
    frame["churned"] = y
    frame.to_csv(path, index=False)
    return path


def run_study(tmp_path, cli_env, mlflow_server, spec_text):
    spec = write_spec(tmp_path / "spec.yaml", spec_text)
    env = {**cli_env, "MLFLOW_TRACKING_URI": mlflow_server.url}
    result = run_cli(["tune", str(spec), "--no-progress"], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, env


def study_runs(client, experiment):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    by_role: dict[str, list] = {}
    for run in runs:
        by_role.setdefault(run.data.tags.get("kubetune.role"), []).append(run)
    return by_role


def artifact_paths(client, run_id, folder=None):
    return {a.path for a in client.list_artifacts(run_id, folder)}


def test_a_study_ends_with_finalists_significance_intervals_importances_plots_and_a_report(
    tmp_path, cli_env, mlflow_server
):
    synthetic_csv(tmp_path / "churn.csv")
    result, env = run_study(
        tmp_path,
        cli_env,
        mlflow_server,
        f"""
study: churn-analysis
data: {{source: {tmp_path / "churn.csv"}, target: churned, test_size: 0.3}}
model: {{family: logistic_regression}}
objective: {{metric: roc_auc}}
validation: {{folds: 4}}
search: {{sampler: tpe, n_trials: 10, parallelism: 2, seed: 3}}
warm_start: none
analysis: {{finalists: 3, repeats: 2}}
tracking: {{experiment: churn-analysis}}
""",
    )
    client = MlflowClient(mlflow_server.url)
    roles = study_runs(client, "churn-analysis")
    [parent], [refit] = roles["study"], roles["refit"]
    finalists = roles["finalist"]

    # three tuned finalists and the defaults, each a finished run under the study's, 2 x 4 scores each
    assert "default" in {r.data.tags["kubetune.finalist"] for r in finalists}
    assert len(finalists) == 4
    for run in finalists:
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.metrics["repeated_cv_scores"] == 8
        assert 0.5 < run.data.metrics["cv_roc_auc"] <= 1.0

    # significance and intervals on the parent run, and in the summary the CLI printed
    metrics, tags = parent.data.metrics, parent.data.tags
    assert 0.0 <= metrics["analysis_p_vs_runner_up"] <= 1.0
    assert 0.0 <= metrics["analysis_p_vs_default"] <= 1.0
    assert metrics["analysis_extra_fits"] == 32  # 4 finalists x 2 repeats x 4 folds
    assert metrics["analysis_repeats"] == 2
    low, high = metrics["test_roc_auc_ci_low"], metrics["test_roc_auc_ci_high"]
    assert low < metrics["test_roc_auc"] < high <= 1.0
    assert refit.data.metrics["test_roc_auc_ci_low"] == low
    assert (
        metrics["default_test_roc_auc_ci_low"]
        < metrics["default_test_roc_auc"]
        < metrics["default_test_roc_auc_ci_high"]
    )
    summary = tags["kubetune.analysis.summary"]
    assert summary.startswith("held-out roc_auc: tuned ") and " vs default " in summary
    assert "the runner-up" in summary and "corrected resampled t-test" in summary
    assert tags["kubetune.analysis.selection"].startswith("best_mean: ")
    assert "held-out roc_auc: tuned" in result.stdout

    # importances (both evaluators, every parameter of the space) and the plots as PNGs
    for evaluator in ("fanova", "ped_anova"):  # the family's default space: C and class_weight
        shares = {p: metrics[f"importance_{evaluator}_{p}"] for p in ("C", "class_weight")}
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-6)
    plots = artifact_paths(client, parent.info.run_id, "plots")
    assert {
        f"plots/{name}.png"
        for name in ("history", "parallel_coordinates", "slice", "importances", "finalists")
    } <= plots
    assert "report.html" in artifact_paths(client, parent.info.run_id)

    # kubetune report: the same page for any finished study, rendered by Chromium without errors
    output = tmp_path / "report.html"
    report = run_cli(
        ["report", "churn-analysis", "-o", str(output), "--tracking-uri", mlflow_server.url],
        cwd=tmp_path,
        env=env,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    assert f"{output}: report of study churn-analysis" in report.stdout
    with open_page(output.as_uri()) as (page, errors):
        page.wait_for_selector(".plot .main-svg")
        assert errors == []
        assert page.title() == "kubetune study churn-analysis"
        drawn = page.locator(".plot .plotly-graph-div").count()
        assert drawn >= 5
        assert page.locator("#finalists tr.chosen, tr.chosen").count() == 1
        headline = page.locator(".headline").inner_text()
        assert "tuned" in headline and "vs default" in headline
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 50_000

    # the MLflow UI from the link the summary printed: the model-training layout (not GenAI's traces
    # and judges), the study's description on its page, the pruned/failed/best marks on its children
    [link] = [
        line.split("mlflow: ", 1)[1] for line in result.stdout.splitlines() if "mlflow: " in line
    ]
    assert link.endswith(f"/runs/{parent.info.run_id}?workflowType=machine_learning")
    assert parent.data.tags["mlflow.note.content"].startswith("**logistic_regression**")
    assert "held-out roc_auc: tuned" in parent.data.tags["mlflow.note.content"]
    with open_page(link) as (page, _):
        page.get_by_text("Chosen configuration").first.wait_for(timeout=30_000)
        body = page.inner_text("body")
        assert "Model registry" in body and "Judges" not in body
        page.screenshot(path=str(tmp_path / "mlflow-run.png"))


def test_two_equal_configurations_are_reported_as_not_significantly_different(
    tmp_path, cli_env, mlflow_server
):
    """warm_start does nothing to a forest fitted once: the two configurations score the same on every
    split, and the study must say so rather than crown one of them."""
    synthetic_csv(tmp_path / "churn.csv")
    result, _ = run_study(
        tmp_path,
        cli_env,
        mlflow_server,
        f"""
study: equal-pair
data: {{source: {tmp_path / "churn.csv"}, target: churned}}
model:
  family: random_forest
  params: {{n_estimators: 15, max_depth: 4}}
  space:
    warm_start: {{type: categorical, choices: [false, true]}}
objective: {{metric: roc_auc}}
validation: {{folds: 3}}
search: {{sampler: grid, n_trials: 2, parallelism: 2, seed: 5}}
warm_start: none
analysis: {{finalists: 2, repeats: 2, baseline: false}}
tracking: {{experiment: equal-pair}}
""",
    )
    client = MlflowClient(mlflow_server.url)
    roles = study_runs(client, "equal-pair")
    [parent] = roles["study"]
    assert len(roles["finalist"]) == 2  # no defaults: baseline off
    assert parent.data.metrics["analysis_p_vs_runner_up"] == 1.0
    assert (
        "not significantly different from the runner-up"
        in parent.data.tags["kubetune.analysis.significance"]
    )
    assert "not significantly different from the runner-up" in result.stdout
    assert "default_test_roc_auc" not in parent.data.metrics


def test_repeats_by_default_keep_the_stage_within_a_quarter_of_the_search(
    tmp_path, cli_env, mlflow_server
):
    """``repeats: auto``: 16 trials and two finalists without the defaults afford 2 repeats (2 x 2 fits
    of a trial's cost within 16 / 4); 16 trials and five finalists with the defaults afford the minimum,
    1 -- each recorded on the parent run and in every finalist's scores."""
    synthetic_csv(tmp_path / "churn.csv")
    for study, analysis, repeats, finalists in (
        ("auto-two", "{finalists: 2, baseline: false}", 2, 2),
        ("auto-one", "auto", 1, 6),
    ):
        run_study(
            tmp_path,
            cli_env,
            mlflow_server,
            f"""
study: {study}
data: {{source: {tmp_path / "churn.csv"}, target: churned}}
model: {{family: logistic_regression}}
objective: {{metric: accuracy}}
validation: {{folds: 3}}
search: {{sampler: random, n_trials: 16, parallelism: 2, seed: 4}}
warm_start: none
analysis: {analysis}
tracking: {{experiment: {study}}}
""",
        )
        roles = study_runs(MlflowClient(mlflow_server.url), study)
        [parent] = roles["study"]
        assert parent.data.metrics["analysis_repeats"] == repeats
        assert parent.data.metrics["analysis_extra_fits"] == finalists * repeats * 3
        assert len(roles["finalist"]) == finalists
        assert {r.data.metrics["repeated_cv_scores"] for r in roles["finalist"]} == {repeats * 3}


def test_analysis_none_adds_no_fits(tmp_path, cli_env, mlflow_server):
    synthetic_csv(tmp_path / "churn.csv")
    result, _ = run_study(
        tmp_path,
        cli_env,
        mlflow_server,
        f"""
study: no-analysis
data: {{source: {tmp_path / "churn.csv"}, target: churned}}
model: {{family: logistic_regression}}
objective: {{metric: accuracy}}
validation: {{folds: 3}}
search: {{sampler: random, n_trials: 4, parallelism: 2, seed: 1}}
warm_start: none
analysis: none
tracking: {{experiment: no-analysis}}
""",
    )
    client = MlflowClient(mlflow_server.url)
    roles = study_runs(client, "no-analysis")
    [parent] = roles["study"]
    assert "finalist" not in roles
    assert not any(k.startswith(("analysis_", "default_test_")) for k in parent.data.metrics)
    assert "test_accuracy_ci_low" not in parent.data.metrics
    assert "tuned" not in result.stdout
    # the plots and the report are still there: they cost no fit
    assert "report.html" in artifact_paths(client, parent.info.run_id)

    # kubetune report on bad input: one line naming the problem, exit 2, the study's run untouched
    env = {**cli_env, "MLFLOW_TRACKING_URI": mlflow_server.url}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cases = {
        "no study 'nosuch' in the MLflow store": (["report", "nosuch"], env),
        "study 'no-analysis' is not in the study storage journal://": (
            ["report", "no-analysis", "--storage", f"journal://{elsewhere / 'x.journal'}"],
            env,
        ),
        "cannot reach the MLflow server at http://127.0.0.1:9": (
            ["report", "no-analysis", "--tracking-uri", "http://127.0.0.1:9"],
            env,
        ),
        "no MLflow store at mlflow.db": (["report", "no-analysis"], cli_env),
        "SQLite is not safe for parallel trials": (
            ["report", "no-analysis", "--storage", "sqlite:///x.db"],
            env,
        ),
    }
    for expected, (args, case_env) in cases.items():
        bad = run_cli(args, cwd=elsewhere, env=case_env)
        [line] = bad.stderr.strip().splitlines()
        assert bad.returncode == 2 and line.startswith("kubetune: error: ") and expected in line, (
            bad.stderr[-2000:]
        )
    assert sorted(p.name for p in elsewhere.iterdir()) == []  # no empty store, journal or page made
    after = client.get_run(parent.info.run_id)
    assert after.info.status == "FINISHED" and after.data.metrics == parent.data.metrics
