"""Warm starts through the real CLI: past studies are read back from the MLflow store the studies wrote,
and the user sees the provenance on the parent run and on each warm-start trial's run."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, write_spec
from tests.e2e.test_tune_cli import store

pytestmark = pytest.mark.e2e
EXPERIMENT = "warm"


def spec(tmp_path, name, source="sklearn:breast_cancer", warm="auto", n_trials=4, seed=3):
    return write_spec(
        tmp_path / f"{name}.yaml",
        f"""
study: {name}
data: {{source: "{source}"}}
model:
  family: random_forest
  space:
    n_estimators: {{type: int, low: 10, high: 60}}
    max_depth: {{type: int, low: 2, high: 12}}
    criterion: {{type: categorical, choices: [gini, entropy]}}
objective: {{metric: accuracy}}
validation: {{folds: 3}}
search: {{sampler: tpe, n_trials: {n_trials}, parallelism: 2, seed: {seed}}}
tracking: {{experiment: {EXPERIMENT}}}
warm_start: {warm}
""",
    )


def tune(tmp_path, env, *args):
    result = run_cli(["tune", *map(str, args), "--no-progress"], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def runs_of(client, study):
    exp = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs(
        [exp.experiment_id], f"tags.`kubetune.study` = '{study}'", max_results=1000
    )
    parent = next(r for r in runs if r.data.tags["kubetune.role"] == "study")
    trials = sorted(
        (r for r in runs if r.data.tags["kubetune.role"] == "trial"),
        key=lambda r: int(r.data.tags["kubetune.trial_number"]),
    )
    return parent, trials


def test_history_seeds_new_studies_and_every_warm_trial_names_its_source(tmp_path, cli_env):
    client = lambda: store(tmp_path)  # noqa: E731 - a fresh client sees the CLI's writes

    # 1. no history: a cold start, said in one line; meta-features are on the parent run
    first = tune(tmp_path, cli_env, spec(tmp_path, "bc-monday"))
    assert (
        "no past study of a classification random_forest model in the meta-store; cold start"
        in first.stderr + first.stdout
    )
    parent, trials = runs_of(client(), "bc-monday")
    assert parent.data.tags["kubetune.warm_start.used"] == "cold"
    assert not any("kubetune.warm_start.source_run_id" in t.data.tags for t in trials)
    # params, where they do not crowd the run's scores in the MLflow UI
    assert not any(k.startswith("meta.") for k in parent.data.metrics)
    meta = {k: float(v) for k, v in parent.data.params.items() if k.startswith("meta.")}
    assert (
        meta["meta.n_rows"] == 455 and meta["meta.n_features"] == 30 and meta["meta.n_classes"] == 2
    )
    for name in (
        "class_entropy",
        "imbalance_ratio",
        "missing_ratio",
        "skew_abs_mean",
        "kurtosis_mean",
        "landmark_stump",
        "landmark_1nn",
        "landmark_naive_bayes",
    ):
        assert f"meta.{name}" in meta

    # 2. the same pipeline run again (scheduled retraining): its first trials are the last study's best
    tune(tmp_path, cli_env, spec(tmp_path, "bc-tuesday"))
    parent, trials = runs_of(client(), "bc-tuesday")
    assert parent.data.tags["kubetune.warm_start.used"] == "same_pipeline"
    assert parent.data.tags["kubetune.warm_start.n_configs"] == "2"  # half of the 4-trial budget
    assert (
        parent.data.tags["kubetune.sampler.startup_trials"] == "2"
    )  # TPE models right after the warm trials
    assert (
        parent.data.tags["kubetune.sampler.random_from_trial"] == "22"
    )  # then 20 model-only trials, then every 5th random
    assert parent.data.tags["kubetune.sampler.random_every"] == "5"
    monday = runs_of(client(), "bc-monday")[0].data.tags
    assert (
        monday["kubetune.sampler.startup_trials"] == "10"
        and "kubetune.sampler.random_every" not in monday
    )  # cold: random start-up
    monday_trials = {t.info.run_id: t for t in runs_of(client(), "bc-monday")[1]}
    warm = [t for t in trials if "kubetune.warm_start.source_run_id" in t.data.tags]
    assert [int(t.data.tags["kubetune.trial_number"]) for t in warm] == [0, 1]
    ranked = sorted(monday_trials.values(), key=lambda t: -t.data.metrics["accuracy"])
    for trial, source in zip(warm, ranked):
        assert trial.data.tags["kubetune.warm_start.source_run_id"] == source.info.run_id
        assert trial.data.tags["kubetune.warm_start.source_study"] == "bc-monday"
        assert (
            trial.data.params == source.data.params
        )  # same space: the configuration is run as it was

    # 3. another dataset: the nearest past studies by meta-features seed it
    tune(
        tmp_path,
        cli_env,
        spec(tmp_path, "wine-first", source="sklearn:wine", warm="similar_datasets"),
    )
    parent, trials = runs_of(client(), "wine-first")
    plan = json.loads(
        open(client().download_artifacts(parent.info.run_id, "warm_start.json")).read()
    )
    assert {n["study"] for n in plan["neighbours"]} == {"bc-monday", "bc-tuesday"}
    assert parent.data.tags["kubetune.warm_start.used"] == "similar_datasets"
    past_run_ids = set(monday_trials) | {t.info.run_id for t in runs_of(client(), "bc-tuesday")[1]}
    warm = [t for t in trials if "kubetune.warm_start.source_run_id" in t.data.tags]
    assert 1 <= len(warm) == int(parent.data.tags["kubetune.warm_start.n_configs"]) <= 2
    assert [int(t.data.tags["kubetune.trial_number"]) for t in warm] == list(
        range(len(warm))
    )  # run first
    assert all(t.data.tags["kubetune.warm_start.source_run_id"] in past_run_ids for t in warm)
    assert [c["source_run_id"] for c in plan["configs"]] == [
        t.data.tags["kubetune.warm_start.source_run_id"] for t in warm
    ]
    assert meta != {k: float(v) for k, v in parent.data.params.items() if k.startswith("meta.")}

    # the meta-store is cached locally: finished studies are read from MLflow once
    [cache] = (tmp_path / ".kubetune" / "cache").glob("metastore-*.json")
    cached = json.loads(cache.read_text())["studies"]
    assert {entry["study"] for entry in cached.values()} >= {"bc-monday", "bc-tuesday"}

    # each finished study left its best trials on its parent run, so a later read (a controller pod's
    # empty cache) fetches one small file per study instead of querying every trial run
    monday_parent, monday_runs = runs_of(client(), "bc-monday")
    assert monday_parent.data.tags["kubetune.meta_store_record"] == "meta_store_record.json"
    record = json.loads(
        open(
            client().download_artifacts(monday_parent.info.run_id, "meta_store_record.json")
        ).read()
    )
    by_id = {t.info.run_id: t for t in monday_runs}
    assert (
        sorted(c["run_id"] for c in record["configs"]) == sorted(by_id)
        and record["metric"] == "accuracy"
    )
    assert [c["score"] for c in record["configs"]] == sorted(
        (t.data.metrics["accuracy"] for t in monday_runs), reverse=True
    )
    assert all(
        c["params"] == by_id[c["run_id"]].data.params
        and c["score"] == by_id[c["run_id"]].data.metrics["accuracy"]
        for c in record["configs"]
    )
    assert [c["run_id"] for c in cached[monday_parent.info.run_id]["configs"]] == [
        c["run_id"] for c in record["configs"]
    ]

    # 4. warm_start: none leaves history alone
    # its own seed: a cold study with the first one's seed draws the first one's configurations, and
    # past optima that all agree give no box to narrow to in step 5
    tune(tmp_path, cli_env, spec(tmp_path, "bc-none", warm="none", seed=11))
    parent, trials = runs_of(client(), "bc-none")
    assert parent.data.tags["kubetune.warm_start.used"] == "none"
    assert not any("kubetune.warm_start.source_run_id" in t.data.tags for t in trials)

    # 5. narrow_space: the space is cut to the box of the 4 past studies' optima; the trials stay in it,
    # and a resume searches the box the study began with (stored on the study, logged once)
    narrow = spec(tmp_path, "bc-narrow", warm="{mode: similar_datasets, narrow_space: true}")
    narrow.write_text(
        narrow.read_text().replace(
            "n_estimators: {type: int, low: 10, high: 60}",
            "n_estimators: {type: int, low: 10, high: 200}",
        )
    )
    first_run = tune(tmp_path, cli_env, narrow)
    parent, trials = runs_of(client(), "bc-narrow")
    box = json.loads(
        open(client().download_artifacts(parent.info.run_id, "search_space_narrowed.json")).read()
    )
    optima = []
    for past in ("bc-monday", "bc-tuesday", "wine-first", "bc-none"):
        past_trials = [t for t in runs_of(client(), past)[1] if "accuracy" in t.data.metrics]
        optima.append(max(past_trials, key=lambda t: t.data.metrics["accuracy"]).data.params)
    for name in ("n_estimators", "max_depth"):
        values = [int(o[name]) for o in optima]
        assert box[name]["low"] <= min(values) and max(values) <= box[name]["high"]
    # the past studies searched 10-60, so 60-200 never won: the box ends at most a tenth of 10-60 past 60 (warm_box.MARGIN)
    assert box["n_estimators"]["high"] <= 65
    assert box["criterion"]["choices"] == ["gini", "entropy"]  # categories are kept whole
    assert (
        "search space narrowed to the box of 4 past optima" in first_run.stderr + first_run.stdout
    )
    assert parent.data.tags["kubetune.warm_start.narrowed"]
    assert (
        json.loads(
            open(client().download_artifacts(parent.info.run_id, "search_space.json")).read()
        )["n_estimators"]["high"]
        == 200
    )
    resumed = tune(tmp_path, cli_env, narrow, "--n-trials", 8)
    assert "searching the narrowed space the study began with" in resumed.stderr + resumed.stdout
    parent, trials = runs_of(client(), "bc-narrow")
    assert len(trials) == 8
    for trial in trials:
        for name in ("n_estimators", "max_depth"):
            assert box[name]["low"] <= int(trial.data.params[name]) <= box[name]["high"], (
                trial.data.params,
                box,
            )
