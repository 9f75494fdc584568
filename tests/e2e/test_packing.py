"""Packed and fused trials (``executor.packing``) through the real CLI on the local executor, read back
from the MLflow store and the study journal: one trial and one run per member, the groups recorded, a
fused group's members sharing their network's structure, pruned members PRUNED, a failing member
failing alone, and ``trials: auto`` sized from the first trial."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from tests.conftest import run_cli, write_spec
from tests.e2e.test_search_strategies import journal_study, runs_of, store, tune

SPEC = """
study: {study}
data: {{source: "sklearn:breast_cancer"}}
model: {model}
objective: {{metric: accuracy}}
validation: {{strategy: holdout}}
search: {{sampler: tpe, n_trials: {n_trials}, parallelism: 1, seed: 3{search}}}
executor: {{packing: {packing}}}
tracking: {{mlflow_uri: "sqlite:///mlflow.db", experiment: {study}}}
warm_start: none
analysis: none
"""
MLP = "{family: torch_mlp, params: {epochs: 9}}"


def spec(tmp_path, study, packing, model=MLP, n_trials=8, search=""):
    text = SPEC.format(study=study, model=model, n_trials=n_trials, packing=packing, search=search)
    return write_spec(tmp_path / f"{study}.yaml", text)


def test_a_fused_study_trains_each_group_of_one_structure_as_one_model(tmp_path, cli_env):
    """Two groups of four, one after the other (one worker), successive halving watching every
    member's epochs: the second group is pruned against the first's curves."""
    tune(
        tmp_path,
        cli_env,
        spec(
            tmp_path,
            "bc-fused",
            "{trials: 4, mode: fused}",
            search=", pruner: {kind: successive_halving, reduction_factor: 3}",
        ),
    )
    study = journal_study(tmp_path, "bc-fused")
    assert len(study.trials) == 8
    states = {t.number: t.state for t in study.trials}
    assert set(states.values()) <= {TrialState.COMPLETE, TrialState.PRUNED}
    pruned = [n for n, s in states.items() if s == TrialState.PRUNED]
    assert pruned, "successive halving stopped no member"
    parent, runs = runs_of(store(tmp_path), "bc-fused")
    assert sorted(runs) == list(range(8))
    groups: dict[str, list[int]] = {}
    for number, run in runs.items():
        tags = run.data.tags
        assert tags["kubetune.packing.mode"] == "fused" and tags["kubetune.packing.size"] == "4"
        assert tags["kubetune.device"] == "cpu"
        groups.setdefault(tags["kubetune.packing.group"], []).append(number)
        # the study knows the group too: a restarted controller reads it back
        assert (
            study.trials[number].user_attrs["kubetune.packing.group"]
            == tags["kubetune.packing.group"]
        )
    assert sorted(sorted(members) for members in groups.values()) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    for members in groups.values():
        structures = {
            tuple(runs[n].data.params[p] for p in ("depth", "width", "batch_size")) for n in members
        }
        assert len(structures) == 1, f"one fused group holds several structures: {structures}"
        # the members still differ in what the sampler drew for each
        assert len({runs[n].data.params["lr"] for n in members}) == 4
    for number in pruned:
        run = runs[number]
        assert run.data.tags["kubetune.trial_state"] == "PRUNED" and run.info.status == "KILLED"
        reported = study.trials[number].intermediate_values
        assert max(reported) < 9 and run.data.tags["kubetune.pruned_at_step"] == str(max(reported))
    for number, state in states.items():
        if state == TrialState.COMPLETE:
            assert runs[number].data.metrics["cv_accuracy"] == study.trials[number].value
            assert sorted(study.trials[number].intermediate_values) == list(range(1, 10))
    assert parent.data.metrics["gpu_hours"] == 0.0 and parent.data.metrics["trial_hours"] > 0


def test_a_packed_member_that_fails_fails_alone_and_the_others_complete(tmp_path, cli_env):
    tune(
        tmp_path,
        cli_env,
        spec(
            tmp_path,
            "bc-packed",
            "{trials: 3, mode: processes}",
            model='{family: "tests.families:RaiseFamily", space: {x: {type: float, low: 0, high: 1}}}',
            n_trials=6,
        ),
    )
    study = journal_study(tmp_path, "bc-packed")
    assert len(study.trials) == 6, "a failed member was retried or lost"
    _, runs = runs_of(store(tmp_path), "bc-packed")
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert failed and len(failed) < 6
    for trial in study.trials:
        tags = runs[trial.number].data.tags
        assert tags["kubetune.packing.mode"] == "processes" and tags["kubetune.packing.size"] == "3"
        if trial.params["x"] > 0.5:
            assert trial.state == TrialState.FAIL
            assert "is broken" in trial.user_attrs["kubetune.failure_reason"]
        else:
            assert trial.state == TrialState.COMPLETE
    assert {runs[n].data.tags["kubetune.packing.group"] for n in runs} == {"g0", "g3"}


def test_auto_packing_sizes_the_groups_from_the_first_trial(tmp_path, cli_env):
    """No GPU here: the first trial runs alone and measures, then fused groups of 16 (the CPU size)."""
    tune(tmp_path, cli_env, spec(tmp_path, "bc-auto", "{trials: auto}", n_trials=6))
    parent, runs = runs_of(store(tmp_path), "bc-auto")
    assert parent.data.tags["kubetune.packing.size"] == "16"
    assert "kubetune.packing.group" not in runs[0].data.tags
    assert {runs[n].data.tags["kubetune.packing.group"] for n in range(1, 6)} == {"g1"}
    assert runs[1].data.tags["kubetune.packing.size"] == "5"  # the budget's last five


@pytest.mark.parametrize(
    "packing, model, expected",
    [
        ("{trials: 0}", MLP, "executor.packing.trials: must be 1 to 256 or auto, got 0"),
        ("{trials: many}", MLP, "executor.packing.trials: must be 1 to 256 or auto, got 'many'"),
        (
            "{trials: 4, mode: fused}",
            "{family: random_forest}",
            "executor.packing.mode: fused trains PyTorch MLPs (torch_mlp, torch_nas) as one batched model; "
            "'random_forest' cannot train fused (use processes)",
        ),
        (
            "{trials: 4, mode: batched}",
            MLP,
            "executor.packing.mode: Input should be 'processes', 'fused' or 'auto'",
        ),
    ],
)
def test_bad_packing_stops_before_any_work(tmp_path, packing, model, expected):
    path = spec(tmp_path, "bc-bad", packing, model=model)
    result = run_cli(["tune", str(path), "--no-progress"], cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[0].startswith(f"kubetune: error: {expected}")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / ".kubetune").exists()
