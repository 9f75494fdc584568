"""Pruners, population-based training, several objectives and architecture search through the real CLI
(real Prefect server, real worker processes, journal study storage, SQLite MLflow store); assertions
read the study storage, the MLflow store and the files, as a user would."""

from __future__ import annotations

import json

import mlflow
import optuna
import pytest
import yaml
from optuna.trial import TrialState

from kubetune.components.execution import open_storage
from kubetune.components.tracking import open_client
from tests.conftest import run_cli, write_spec

pytestmark = pytest.mark.e2e


def store(cwd):
    """The folder's MLflow store, opened as kubetune opens it: a study starting in the same folder may be
    creating its tables right now, and two first opens at once must not both migrate them."""
    return open_client(f"sqlite:///{cwd / 'mlflow.db'}")


def runs_of(client, study):
    exp = client.get_experiment_by_name(study)
    runs = client.search_runs([exp.experiment_id], max_results=10_000)
    parent = next(r for r in runs if r.data.tags.get("kubetune.role") == "study")
    trials = {
        int(r.data.tags["kubetune.trial_number"]): r
        for r in runs
        if r.data.tags.get("kubetune.role") == "trial"
    }
    return parent, trials


def journal_study(cwd, name):
    return optuna.load_study(
        study_name=name, storage=open_storage(f"journal:///{cwd / '.kubetune' / 'studies.journal'}")
    )


def tune(tmp_path, env, spec, ok=True):
    result = run_cli(["tune", str(spec), "--no-progress"], cwd=tmp_path, env=env)
    if ok:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("pruner", ["median", "successive_halving", "hyperband"])
def test_each_pruner_records_pruned_trials_with_their_step_in_the_study_and_mlflow(
    tmp_path, cli_env, pruner
):
    name = f"bc-{pruner.replace('_', '-')}"
    spec = write_spec(
        tmp_path / "spec.yaml",
        f"""
study: {name}
data: {{source: "sklearn:breast_cancer"}}
model:
  family: hist_gradient_boosting
  space:
    learning_rate: {{type: float, low: 0.005, high: 0.3, log: true}}
    max_iter: {{type: int, low: 30, high: 90}}
    max_leaf_nodes: {{type: int, low: 4, high: 32, log: true}}
objective: {{metric: accuracy}}
validation: {{strategy: holdout}}
search: {{sampler: random, n_trials: 14, parallelism: 2, seed: 3, pruner: {{kind: {pruner}, n_startup_trials: 3, reduction_factor: 3}}}}
tracking: {{mlflow_uri: "sqlite:///mlflow.db"}}
warm_start: none
""",
    )
    result = tune(tmp_path, cli_env, spec)
    study = journal_study(tmp_path, name)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert pruned and complete and len(pruned) + len(complete) == 14  # pruned is not failed
    assert f"(14 trials this run, {len(pruned)} pruned, 0 failed)" in result.stdout
    parent, runs = runs_of(store(tmp_path), name)
    assert (
        parent.info.status == "FINISHED"
        and parent.data.params["pruner"] == pruner
        and "kubetune.refit_run_id" in parent.data.tags
    )
    for trial in pruned:
        steps = sorted(trial.intermediate_values)
        assert steps[0] == 10 and all(
            s % 10 == 0 for s in steps
        )  # boosting iterations, ten per step
        assert steps[-1] < trial.params["max_iter"]  # stopped before its own end
        run = runs[trial.number]
        # stopped early: "Killed" in the MLflow UI, not a green "Finished"
        assert run.info.status == "KILLED" and run.data.tags["kubetune.trial_state"] == "PRUNED"
        assert (
            run.data.tags["kubetune.pruned_at_step"] == str(steps[-1])
            and run.data.tags["kubetune.step_unit"] == "iteration"
        )
        assert "accuracy_fold_0" not in run.data.metrics  # no made-up final score
        history = store(tmp_path).get_metric_history(run.info.run_id, "accuracy_curve")
        assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
            (s, trial.intermediate_values[s]) for s in steps
        ]
    for trial in complete:
        assert max(trial.intermediate_values) == trial.params["max_iter"]
        assert runs[trial.number].data.tags["kubetune.trial_state"] == "COMPLETE"


def test_population_based_training_copies_checkpoints_and_logs_lineage(tmp_path, cli_env):
    spec = write_spec(
        tmp_path / "spec.yaml",
        """
study: bc-pbt
data: {source: "sklearn:breast_cancer"}
model: {family: torch_mlp}
objective: {metric: accuracy}
validation: {strategy: holdout}
search: {strategy: pbt, parallelism: 2, seed: 4, pbt: {population: 4, generations: 3, interval: 2, keep_checkpoints: last}}
tracking: {mlflow_uri: "sqlite:///mlflow.db"}
warm_start: none
""",
    )
    tune(tmp_path, cli_env, spec)
    client = store(tmp_path)
    parent, runs = runs_of(client, "bc-pbt")
    assert len(runs) == 12 and parent.data.params["strategy"] == "pbt"
    tags = {n: r.data.tags for n, r in runs.items()}
    by_round = {
        (int(t["kubetune.pbt.generation"]), int(t["kubetune.pbt.member"])): n
        for n, t in tags.items()
    }
    assert sorted(by_round) == [(g, m) for g in range(3) for m in range(4)]
    copied = [n for n, t in tags.items() if t["kubetune.pbt.exploited"] == "True"]
    assert len(copied) == 2  # one of four members per round (quantile 0.25), rounds 1 and 2
    for number in copied:
        t = tags[number]
        generation, source = (
            int(t["kubetune.pbt.generation"]),
            int(t["kubetune.pbt.copied_from_member"]),
        )
        assert int(t["kubetune.pbt.copied_from_trial"]) == by_round[(generation - 1, source)]
        assert t["kubetune.pbt.copied_at_epoch"] == str(2 * generation)
        source_params = runs[by_round[(generation - 1, source)]].data.params
        assert (
            runs[number].data.params["depth"] == source_params["depth"]
            and runs[number].data.params["width"] == source_params["width"]
        )
        assert (
            runs[number].data.params != source_params
        )  # explored: settings perturbed or resampled
        assert t["kubetune.pbt.checkpoint_in"].endswith(
            f"gen-{generation - 1:04d}/member-{source:03d}.pt"
        )
    for number, t in tags.items():
        # keep_checkpoints: last -- only the last generation's checkpoints are left (relative paths: the working folder)
        assert (tmp_path / t["kubetune.pbt.checkpoint_out"]).is_file() == (
            t["kubetune.pbt.generation"] == "2"
        )
        curve = client.get_metric_history(runs[number].info.run_id, "accuracy_curve")
        generation = int(t["kubetune.pbt.generation"])
        assert sorted(m.step for m in curve) == [
            2 * generation + 1,
            2 * generation + 2,
        ]  # epochs continue across rounds
    lineage = json.loads(
        open(
            client.download_artifacts(parent.info.run_id, "pbt_lineage.json", str(tmp_path))
        ).read()
    )
    assert len(lineage["rounds"]) == 12 and {r["generation"] for r in lineage["rounds"]} == {
        0,
        1,
        2,
    }
    best = int(parent.data.tags["kubetune.pbt.best_trial"])
    assert int(tags[best]["kubetune.pbt.generation"]) == 2
    refit = client.get_run(parent.data.tags["kubetune.refit_run_id"])
    assert refit.data.params["epochs"] == "6" and refit.data.metrics["test_accuracy"] > 0.8
    # the refit replays the best member's schedule (its ancestors' rounds), not its last settings from scratch
    assert refit.data.params["pbt_replayed_rounds"] == "3"
    schedule = json.loads(
        open(
            client.download_artifacts(refit.info.run_id, "pbt_schedule.json", str(tmp_path))
        ).read()
    )["rounds"]
    assert [s["generation"] for s in schedule] == [0, 1, 2] and schedule[-1]["member"] == int(
        tags[best]["kubetune.pbt.member"]
    )
    for step, later in zip(
        schedule, schedule[1:]
    ):  # each round resumed from the round before it in the schedule
        assert (
            int(
                tags[by_round[(later["generation"], later["member"])]][
                    "kubetune.pbt.copied_from_member"
                ]
            )
            == step["member"]
        )
    for step in schedule:
        logged = runs[by_round[(step["generation"], step["member"])]].data.params
        assert {k: str(v) for k, v in step["params"].items()} == {
            k: v for k, v in logged.items() if k in step["params"]
        }
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    network = mlflow.sklearn.load_model(f"runs:/{refit.info.run_id}/model").named_steps["model"]
    assert network.training_state_["epochs_done"] == 6 and network.resume_from is None
    assert network.lr == schedule[-1]["params"]["lr"]


def test_population_based_training_starts_members_from_the_pipelines_previous_best(
    tmp_path, cli_env
):
    body = """
study: {name}
data: {{source: "sklearn:breast_cancer"}}
model: {{family: torch_mlp}}
objective: {{metric: accuracy}}
validation: {{strategy: holdout}}
search: {{strategy: pbt, parallelism: 2, seed: {seed}, pbt: {{population: 4, generations: 1, interval: 1}}}}
tracking: {{mlflow_uri: "sqlite:///mlflow.db", experiment: pbt-warm}}
warm_start: {{mode: same_pipeline, pipeline: bc-mlp-nightly}}
"""
    tune(
        tmp_path,
        cli_env,
        write_spec(tmp_path / "monday.yaml", body.format(name="pbt-monday", seed=1)),
    )
    tune(
        tmp_path,
        cli_env,
        write_spec(tmp_path / "tuesday.yaml", body.format(name="pbt-tuesday", seed=2)),
    )
    client = store(tmp_path)
    exp = client.get_experiment_by_name("pbt-warm")
    runs = client.search_runs([exp.experiment_id], max_results=100)

    def by_study(study, role):
        return [
            r
            for r in runs
            if r.data.tags.get("kubetune.study") == study and r.data.tags["kubetune.role"] == role
        ]

    monday = {r.info.run_id: r for r in by_study("pbt-monday", "trial")}
    (parent,) = by_study("pbt-tuesday", "study")
    assert parent.data.tags["kubetune.warm_start.used"] == "same_pipeline"
    assert (
        parent.data.tags["kubetune.warm_start.n_configs"] == "2"
    )  # half the population: the other half stays random
    tuesday = {int(r.data.tags["kubetune.pbt.member"]): r for r in by_study("pbt-tuesday", "trial")}
    assert sorted(tuesday) == [0, 1, 2, 3]
    settings = ("depth", "width", "dropout", "lr", "weight_decay", "batch_size")
    best_monday = max(monday.values(), key=lambda r: r.data.metrics["accuracy"])
    for member in (0, 1):
        source = monday[
            tuesday[member].data.tags["kubetune.warm_start.source_run_id"]
        ]  # a run of Monday's study
        assert tuesday[member].data.tags["kubetune.warm_start.source_study"] == "pbt-monday"
        assert {k: tuesday[member].data.params[k] for k in settings} == {
            k: source.data.params[k] for k in settings
        }
    first_source = monday[tuesday[0].data.tags["kubetune.warm_start.source_run_id"]]
    assert (
        first_source.data.metrics["accuracy"] == best_monday.data.metrics["accuracy"]
    )  # the best goes first
    for member in (2, 3):
        assert "kubetune.warm_start.source_run_id" not in tuesday[member].data.tags


def test_several_objectives_log_the_pareto_front_and_refit_by_the_stated_rule(tmp_path, cli_env):
    body = """
data: {{source: "sklearn:digits"}}
model:
  family: random_forest
  space:
    n_estimators: {{type: int, low: 5, high: 150, log: true}}
    max_depth: {{type: int, low: 2, high: 16}}
objective:
  metric: [accuracy, model_size_kb]
  select: {{best: accuracy, where: {{model_size_kb: {{max: {bound}}}}}}}
validation: {{strategy: holdout}}
search: {{sampler: nsga2, n_trials: 10, parallelism: 2, seed: 2}}
tracking: {{mlflow_uri: "sqlite:///mlflow.db", experiment: mo}}
warm_start: none
"""
    tune(
        tmp_path,
        cli_env,
        write_spec(tmp_path / "mo.yaml", "study: digits-mo\n" + body.format(bound=400)),
    )
    client = store(tmp_path)
    exp = client.get_experiment_by_name("mo")
    parent = client.search_runs([exp.experiment_id], "tags.`kubetune.role` = 'study'")[0]
    study = journal_study(tmp_path, "digits-mo")
    front = {t.number for t in study.best_trials}
    table = json.loads(
        open(
            client.download_artifacts(parent.info.run_id, "pareto_front.json", str(tmp_path))
        ).read()
    )
    rows = [dict(zip(table["columns"], row)) for row in table["data"]]
    assert {r["trial"] for r in rows} == front
    assert {"pareto_front.json", "pareto_front.png"} <= {
        a.path for a in client.list_artifacts(parent.info.run_id)
    }
    png = open(
        client.download_artifacts(parent.info.run_id, "pareto_front.png", str(tmp_path)), "rb"
    ).read()
    assert png.startswith(b"\x89PNG")
    chosen = int(parent.data.tags["kubetune.selected_trial"])
    eligible = [r for r in rows if r["model_size_kb"] <= 400]
    assert chosen == max(eligible, key=lambda r: r["accuracy"])["trial"]
    assert parent.data.tags["kubetune.selection"].startswith("best accuracy among")

    failed = tune(
        tmp_path,
        cli_env,
        write_spec(tmp_path / "tight.yaml", "study: digits-mo-tight\n" + body.format(bound=0.001)),
        ok=False,
    )
    assert failed.returncode != 0
    assert (
        "no Pareto-optimal trial meets model_size_kb <= 0.001 (lowest model_size_kb on the front:"
        in failed.stderr + failed.stdout
    )
    tight = client.search_runs(
        [exp.experiment_id],
        "tags.`kubetune.study` = 'digits-mo-tight' and tags.`kubetune.role` = 'study'",
    )[0]
    assert (
        tight.info.status == "FAILED"
        and "model_size_kb <= 0.001" in tight.data.tags["kubetune.failure_reason"]
    )
    assert len(journal_study(tmp_path, "digits-mo-tight").trials) == 10  # the search itself is kept


def test_architecture_search_over_a_convolutional_family_records_only_active_structure(
    tmp_path, cli_env
):
    spec = write_spec(
        tmp_path / "spec.yaml",
        """
study: digits-cnn
data: {source: "sklearn:digits"}
model: {family: torch_cnn, params: {epochs: 3}}
objective: {metric: accuracy}
validation: {strategy: holdout}
search: {sampler: tpe, n_trials: 5, parallelism: 2, seed: 1}
tracking: {mlflow_uri: "sqlite:///mlflow.db"}
warm_start: none
""",
    )
    tune(tmp_path, cli_env, spec)
    parent, runs = runs_of(store(tmp_path), "digits-cnn")
    assert len(runs) == 5
    for run in runs.values():
        params = run.data.params
        assert run.data.tags["kubetune.trial_state"] == "COMPLETE"
        assert {k for k in params if k.startswith("channels_")} == {
            f"channels_{i}" for i in range(int(params["n_blocks"]))
        }
        assert {"kernel_size", "activation", "norm", "head_width"} <= set(params)
    assert parent.data.metrics["test_accuracy"] > 0.5


def test_architecture_search_over_an_mlp_registers_a_model_that_serves_and_seeds_the_next_study(
    tmp_path, cli_env
):
    """torch_nas's refit once failed as it logged the model (a block class no pickle takes); no test ran it."""
    body = """
study: {name}
data: {{source: "sklearn:breast_cancer"}}
model: {{family: torch_nas, params: {{epochs: 3}}}}
objective: {{metric: accuracy}}
validation: {{strategy: holdout}}
search: {{sampler: tpe, n_trials: 4, parallelism: 2, seed: {seed}}}
tracking: {{mlflow_uri: "sqlite:///mlflow.db", experiment: nas-mlp}}
warm_start: {{mode: same_pipeline, pipeline: bc-nas-nightly}}
"""
    tune(
        tmp_path,
        cli_env,
        write_spec(tmp_path / "first.yaml", body.format(name="nas-first", seed=1)),
    )
    client = store(tmp_path)
    [version] = client.search_model_versions("name='nas-first'")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    served = mlflow.pyfunc.load_model(f"models:/nas-first/{version.version}")
    import pandas as pd

    test_rows = pd.read_parquet(tmp_path / ".kubetune" / "nas-first" / "test.parquet").drop(
        columns=["target"]
    )
    assert set(served.predict(test_rows)) <= {0, 1} and len(served.predict(test_rows)) == len(
        test_rows
    )
    requirements = open(
        mlflow.artifacts.download_artifacts(
            f"models:/nas-first/{version.version}/requirements.txt", dst_path=str(tmp_path / "req")
        )
    ).read()
    assert "torch==" in requirements and "kubetune==" in requirements

    tune(
        tmp_path,
        cli_env,
        write_spec(tmp_path / "second.yaml", body.format(name="nas-second", seed=2)),
    )
    first_parent, first_trials = runs_of_study(client, "nas-first")
    second_parent, second_trials = runs_of_study(client, "nas-second")
    assert second_parent.data.tags["kubetune.warm_start.used"] == "same_pipeline"
    best = max(first_trials.values(), key=lambda r: r.data.metrics["accuracy"])
    assert second_trials[0].data.tags["kubetune.warm_start.source_run_id"] == best.info.run_id
    structure = [k for k in best.data.params if k.startswith("width_")] + [
        "n_layers",
        "activation",
        "norm",
        "residual",
    ]
    assert {k: second_trials[0].data.params[k] for k in structure} == {
        k: best.data.params[k] for k in structure
    }


def runs_of_study(client, study):
    """The parent run and trial runs of one study in an experiment that holds several."""
    exp = client.get_experiment_by_name("nas-mlp")
    runs = client.search_runs(
        [exp.experiment_id], f"tags.`kubetune.study` = '{study}'", max_results=100
    )
    parent = next(r for r in runs if r.data.tags["kubetune.role"] == "study")
    return parent, {
        int(r.data.tags["kubetune.trial_number"]): r
        for r in runs
        if r.data.tags["kubetune.role"] == "trial"
    }


def test_a_stopped_population_based_training_study_resumes_and_plans_what_an_uninterrupted_one_would(
    tmp_path, cli_env
):
    import signal
    import subprocess
    import time

    from tests.conftest import VENV_BIN

    body = """
study: {name}
data: {{source: "sklearn:breast_cancer"}}
model: {{family: torch_mlp}}
objective: {{metric: accuracy}}
validation: {{strategy: holdout}}
search: {{strategy: pbt, parallelism: 2, seed: 7, pbt: {{population: 4, generations: 3, interval: 1}}}}
tracking: {{mlflow_uri: "sqlite:///mlflow.db"}}
warm_start: none
"""
    spec = write_spec(tmp_path / "stopped.yaml", body.format(name="pbt-stopped"))
    command = [str(VENV_BIN / "kubetune"), "tune", str(spec), "--no-progress"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client, deadline, finished = store(tmp_path), time.monotonic() + 300, 0
    # generation 0 done, generation 1 under way. The study journal is read, not MLflow: a round takes about a
    # second, and a search of the MLflow store under load has been slow enough to miss the rest of the study
    while time.monotonic() < deadline and finished < 5:
        time.sleep(0.1)
        try:
            finished = len(
                journal_study(tmp_path, "pbt-stopped").get_trials(
                    deepcopy=False, states=(TrialState.COMPLETE,)
                )
            )
        except (KeyError, FileNotFoundError):  # the journal or the study does not exist yet
            continue
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    before = {
        (int(r.data.tags["kubetune.pbt.generation"]), int(r.data.tags["kubetune.pbt.member"]))
        for r in runs_of(client, "pbt-stopped")[1].values()
        if r.data.tags["kubetune.trial_state"] == "COMPLETE"
    }
    assert {(0, m) for m in range(4)} <= before and len(before) < 12

    tune(tmp_path, cli_env, spec)  # the same command again
    tune(
        tmp_path, cli_env, write_spec(tmp_path / "straight.yaml", body.format(name="pbt-straight"))
    )
    parent, runs = runs_of(client, "pbt-stopped")
    assert (
        len(
            [
                r
                for r in client.search_runs([parent.info.experiment_id])
                if r.data.tags.get("kubetune.role") == "study"
            ]
        )
        == 1
    )
    complete = [
        (int(r.data.tags["kubetune.pbt.generation"]), int(r.data.tags["kubetune.pbt.member"]))
        for r in runs.values()
        if r.data.tags["kubetune.trial_state"] == "COMPLETE"
    ]
    assert sorted(complete) == [
        (g, m) for g in range(3) for m in range(4)
    ]  # every round once; none run twice
    assert parent.data.tags["kubetune.refit_run_id"]

    def planned(study):
        study_parent = runs_of(client, study)[0]
        lineage = json.loads(
            open(
                client.download_artifacts(
                    study_parent.info.run_id, "pbt_lineage.json", str(tmp_path / study)
                )
            ).read()
        )["rounds"]
        return {
            (r["generation"], r["member"]): (r["params"], r["parent_member"], r["exploited"])
            for r in lineage
        }

    (tmp_path / "pbt-stopped").mkdir()
    (tmp_path / "pbt-straight").mkdir()
    stopped, straight = planned("pbt-stopped"), planned("pbt-straight")
    assert sorted(stopped) == sorted(straight) == [(g, m) for g in range(3) for m in range(4)]
    assert {k: v for k, v in stopped.items() if k[0] == 0} == {
        k: v for k, v in straight.items() if k[0] == 0
    }
    assert (
        stopped == straight
    )  # same seed, same results per round: the same decisions between rounds

    refused = {  # a resume may not change how the generations were planned: one line, nothing runs
        (
            "population: 4",
            "population: 5",
        ): "search.pbt.population: study 'pbt-stopped' was planned with a population of 4, the spec asks for 5",
        (
            "interval: 1",
            "interval: 2",
        ): "search.pbt.interval: study 'pbt-stopped' was planned with 1 epoch(s) per round, the spec asks for 2",
    }
    for (old, new), message in refused.items():
        changed = write_spec(
            tmp_path / "changed.yaml", body.format(name="pbt-stopped").replace(old, new)
        )
        result = run_cli(["tune", str(changed), "--no-progress"], cwd=tmp_path, env=cli_env)
        assert result.returncode == 2
        assert (
            result.stderr.strip().splitlines()[-1]
            == f"kubetune: error: {message}; keep it to resume, or use another --study-name"
        )
        assert len(runs_of(client, "pbt-stopped")[1]) == len(runs)


def test_a_resumed_multi_objective_study_records_its_latest_run_once(tmp_path, cli_env):
    """Resumed, a study ended with its first run's spec.yaml, the failure tag of a run that had failed,
    and every Pareto trial listed twice (MLflow appends to a table logged again)."""
    spec = write_spec(
        tmp_path / "mo.yaml",
        """
study: mo-resume
data: {source: "sklearn:breast_cancer"}
model: {family: "tests.families:RaiseFamily", space: {x: {type: float, low: 0.0, high: 1.0}}}
objective: {metric: [accuracy, model_size_kb]}
validation: {strategy: holdout}
search: {sampler: random, n_trials: 1, parallelism: 1, seed: 6}
warm_start: none
""",
    )
    client = store(tmp_path)
    runs = []
    for seed_trials in ("1", "4", "8"):
        result = run_cli(
            ["tune", str(spec), "--n-trials", seed_trials, "--no-progress"],
            cwd=tmp_path,
            env=cli_env,
        )
        parent = client.search_runs(
            [client.get_experiment_by_name("mo-resume").experiment_id],
            "tags.`kubetune.role` = 'study'",
        )[0]
        runs.append((result.returncode, parent))
    study = journal_study(tmp_path, "mo-resume")
    first_x = study.trials[0].params["x"]
    assert (
        first_x > 0.5 and runs[0][0] == 1
    )  # seed 6 draws a broken configuration first (x = 0.89): the run fails
    assert "kubetune.failure_reason" in runs[0][1].data.tags
    code, parent = runs[-1]
    assert code == 0
    assert parent.info.status == "FINISHED" and "kubetune.failure_reason" not in parent.data.tags
    recorded = yaml.safe_load(
        open(client.download_artifacts(parent.info.run_id, "spec.yaml", str(tmp_path / "a"))).read()
    )
    assert recorded["search"]["n_trials"] == 8
    table = json.loads(
        open(
            client.download_artifacts(parent.info.run_id, "pareto_front.json", str(tmp_path / "b"))
        ).read()
    )
    trial_column = table["columns"].index("trial")
    listed = [row[trial_column] for row in table["data"]]
    assert sorted(listed) == sorted({t.number for t in study.best_trials})
