"""Scheduled retraining through the real CLI against a real ``mlflow server`` (PostgreSQL backend, S3
artifacts): the same data path is refreshed between runs, as a scheduled job sees it, and the registry
alias moves only when the challenger beats the champion on the new held-out test set by the margin."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.conftest import run_cli, write_spec

pytestmark = pytest.mark.e2e
MARGIN = "0.02"


def write_data(path, seed, flipped=False):
    """Two informative features; `flipped` reverses the relationship (concept drift the champion cannot follow)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(600, 4))
    logit = 3 * X[:, 0] + 1.5 * X[:, 1]
    y = ((-logit if flipped else logit) + rng.logistic(size=600) > 0).astype(int)
    pd.DataFrame({**{f"x{i}": X[:, i] for i in range(4)}, "label": y}).to_csv(path, index=False)


def retrain_spec(tmp_path, name, data, n_trials, parallelism):
    return write_spec(
        tmp_path / "spec.yaml",
        f"""
study: {name}
data: {{source: "{data}", target: label, task: classification}}
model: {{family: logistic_regression}}
objective: {{metric: roc_auc}}
validation: {{folds: 3}}
search: {{n_trials: {n_trials}, parallelism: {parallelism}, seed: 1}}
""",
    )


def retrain(tmp_path, env, spec):
    result = run_cli(
        ["retrain", str(spec), "--margin", MARGIN, "--no-progress"], cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def parent_run(client, experiment, study_prefix, exclude=()):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs(
        [exp.experiment_id],
        "tags.`kubetune.role` = 'study'",
        order_by=["attributes.start_time DESC"],
    )
    return next(
        r
        for r in runs
        if r.data.tags["kubetune.study"].startswith(study_prefix) and r.info.run_id not in exclude
    )


def test_alias_moves_only_when_the_challenger_wins_by_the_margin(tmp_path, cli_env, mlflow_server):
    name = f"churn-{uuid.uuid4().hex[:6]}"
    env = {**cli_env, "MLFLOW_TRACKING_URI": mlflow_server.url}
    data = tmp_path / "data.csv"
    spec = retrain_spec(tmp_path, name, data, n_trials=4, parallelism=2)
    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)

    # 1. first run: no champion, the challenger takes the alias
    write_data(data, seed=1)
    first = retrain(tmp_path, env, spec)
    assert "now holds 'champion': no champion yet" in first.stdout
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    run1 = parent_run(client, name, name)
    assert run1.data.tags["kubetune.promotion.decision"] == "promoted"
    assert "promotion.champion_test_roc_auc" not in run1.data.metrics
    # the summary links the study's run page once; MLflow's two links per ended run (every trial) are gone
    assert (
        f"  mlflow: {mlflow_server.url}/#/experiments/{run1.info.experiment_id}/runs/{run1.info.run_id}?workflowType=machine_learning"
        in first.stdout.splitlines()
    )
    assert "View run" not in first.stdout

    # 2. fresh data, same relationship: the new model is no better by the margin; the champion stays
    write_data(data, seed=2)
    retrain(tmp_path, env, spec)
    run2 = parent_run(client, name, name, exclude={run1.info.run_id})
    assert (
        run2.data.tags["kubetune.study"] != run1.data.tags["kubetune.study"]
    )  # one study per data version
    assert (
        run2.data.tags["kubetune.warm_start.used"] == "same_pipeline"
    )  # warm-started from run 1's study
    assert run2.data.tags["kubetune.promotion.decision"] == "kept_champion"
    challenger, champion = (
        run2.data.metrics["promotion.challenger_test_roc_auc"],
        run2.data.metrics["promotion.champion_test_roc_auc"],
    )
    assert challenger - champion <= float(MARGIN)
    assert challenger == pytest.approx(
        run2.data.metrics["test_roc_auc"]
    )  # the refit's held-out score
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    assert (
        client.get_model_version(name, "2").tags["kubetune.promotion.decision"] == "kept_champion"
    )

    # 3. the relationship flips: the champion collapses on the new test set, the challenger takes over.
    #    This version lands at a new path (a date-partitioned schedule): still the same pipeline
    write_data(tmp_path / "data-v3.csv", seed=3, flipped=True)
    spec.write_text(spec.read_text().replace(str(data), str(tmp_path / "data-v3.csv")))
    third = retrain(tmp_path, env, spec)
    run3 = parent_run(client, name, name, exclude={run1.info.run_id, run2.info.run_id})
    assert run3.data.tags["kubetune.warm_start.used"] == "same_pipeline"
    assert run3.data.tags["kubetune.promotion.decision"] == "promoted"
    assert (
        run3.data.metrics["promotion.champion_test_roc_auc"]
        < 0.5
        < run3.data.metrics["promotion.challenger_test_roc_auc"]
    )
    assert run3.data.tags["kubetune.promotion.champion_version"] == "1"
    assert client.get_model_version_by_alias(name, "champion").version == "3"
    assert "version 3 now holds 'champion'" in third.stdout
    record = json.loads(
        open(client.download_artifacts(run3.info.run_id, "promotion.json", str(tmp_path))).read()
    )
    assert (
        record["decision"] == "promoted"
        and record["challenger_version"] == "3"
        and record["champion_version"] == "1"
    )
    assert record["margin"] == float(MARGIN) and record["improvement"] > float(MARGIN)

    # 4. the schedule fires again before fresh data lands: the same data resumes the finished study, which
    #    trains nothing new and keeps its model; that model already holds the alias, so no version is added
    again = retrain(tmp_path, env, spec)
    assert (
        "'champion' stays on version 3: the challenger already holds the alias: nothing new was trained"
        in again.stdout
    )
    assert client.get_model_version_by_alias(name, "champion").version == "3"
    assert sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'")) == [
        1,
        2,
        3,
    ]
    # the decision that gave version 3 the alias stays on record
    assert client.get_run(run3.info.run_id).data.tags["kubetune.promotion.decision"] == "promoted"
    assert client.get_model_version(name, "3").tags["kubetune.promotion.decision"] == "promoted"


def test_a_champion_is_never_scored_on_rows_it_was_trained_on(tmp_path, cli_env, mlflow_server):
    """A table that grows: version 2 holds version 1's 600 rows and 300 new ones, so some of its held-out
    rows are rows the champion was trained on, and its score there was flattered (83 of 280 in one probe,
    and the champion was kept on that score). Both models are now scored on the held-out rows the champion
    never saw; the record says how many were left out."""
    import mlflow
    from sklearn.metrics import roc_auc_score

    name = f"growing-{uuid.uuid4().hex[:6]}"
    env = {**cli_env, "MLFLOW_TRACKING_URI": mlflow_server.url}
    data = tmp_path / "data.csv"
    spec = retrain_spec(tmp_path, name, data, n_trials=3, parallelism=1)
    client = MlflowClient(mlflow_server.url, registry_uri=mlflow_server.url)
    write_data(data, seed=1)
    retrain(tmp_path, env, spec)
    run1 = parent_run(client, name, name)
    first = pd.read_csv(data)
    write_data(tmp_path / "new.csv", seed=2)
    grown = pd.concat([first, pd.read_csv(tmp_path / "new.csv").head(300)], ignore_index=True)
    grown.to_csv(data, index=False)
    retrain(tmp_path, env, spec)
    run2 = parent_run(client, name, name, exclude={run1.info.run_id})

    def split(run):
        return json.loads(
            open(
                client.download_artifacts(run.info.run_id, "split/row_ids.json", str(tmp_path))
            ).read()
        )

    trained_on = set(
        split(run1)["train"]
    )  # positions in version 1, which are version 2's first 600 rows
    held_out = split(run2)["test"]
    overlap = [i for i in held_out if i < len(first) and i in trained_on]
    unseen = [i for i in held_out if i not in overlap]
    assert overlap and unseen
    record = json.loads(
        open(client.download_artifacts(run2.info.run_id, "promotion.json", str(tmp_path))).read()
    )
    assert record["test_rows_excluded"] == len(overlap)
    mlflow.set_tracking_uri(mlflow_server.url)
    rows = grown.iloc[unseen]
    for version, metric in (
        ("1", "promotion.champion_test_roc_auc"),
        ("2", "promotion.challenger_test_roc_auc"),
    ):
        model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
        expected = roc_auc_score(
            rows["label"], model.predict_proba(rows.drop(columns=["label"]))[:, 1]
        )
        assert run2.data.metrics[metric] == pytest.approx(expected, abs=1e-9), version
