"""The champion/challenger rule, and the retrain command's checks on its own arguments."""

from __future__ import annotations

import pytest

from kubetune.components.core import SpecError
from kubetune.components.registry import decide_promotion, retrain_study_name
from kubetune.components.registry.champion import check_alias
from kubetune.flows.cli import main


def test_first_model_is_promoted_because_there_is_no_champion():
    decision = decide_promotion("roc_auc", "maximize", 0.91, None, 0.01)
    assert (
        decision.promote and decision.reason == "no champion yet" and decision.improvement is None
    )


def test_a_challenger_that_already_holds_the_alias_is_neither_promoted_nor_called_new():
    """A re-run with nothing new to train reuses its model: the alias holder is not 'no champion yet'."""
    decision = decide_promotion("roc_auc", "maximize", 0.91, None, 0.01, already_champion=True)
    assert not decision.promote and decision.verdict == "kept_champion"
    assert (
        decision.reason == "the challenger already holds the alias: nothing new was trained"
        and decision.improvement == 0.0
    )


@pytest.mark.parametrize(
    ("challenger", "champion", "promote"),
    [(0.95, 0.90, True), (0.905, 0.90, False), (0.91, 0.90, False), (0.89, 0.90, False)],
)
def test_challenger_must_win_by_more_than_the_margin_when_maximizing(challenger, champion, promote):
    decision = decide_promotion("roc_auc", "maximize", challenger, champion, 0.01)
    assert decision.promote is promote
    assert decision.improvement == pytest.approx(challenger - champion)
    assert ("beats" in decision.reason) is promote


def test_lower_is_better_for_a_minimized_metric():
    assert decide_promotion("rmse", "minimize", 2.0, 3.0, 0.5).promote
    kept = decide_promotion("rmse", "minimize", 2.8, 3.0, 0.5)
    assert not kept.promote and kept.improvement == pytest.approx(0.2)
    assert not decide_promotion("rmse", "minimize", 3.5, 3.0, 0.0).promote


def test_a_champion_that_cannot_score_the_new_data_loses_and_the_reason_says_why():
    decision = decide_promotion(
        "accuracy", "maximize", 0.7, None, 0.01, champion_problem="columns missing: x9"
    )
    assert decision.promote and "could not be scored" in decision.reason and "x9" in decision.reason
    assert decision.as_json()["decision"] == "promoted"


def test_negative_margin_is_refused():
    with pytest.raises(ValueError, match="margin"):
        decide_promotion("accuracy", "maximize", 0.7, 0.6, -0.1)


def test_each_data_version_gets_its_own_study_name_within_63_characters():
    a = retrain_study_name("churn", "ab" * 32)
    assert a == "churn-abababab" + "ab"
    assert retrain_study_name("churn", "cd" * 32) != a
    long = retrain_study_name("x" * 63, "ef" * 32)
    assert len(long) == 63 and long.endswith("-efefefefef")


@pytest.mark.parametrize("alias", ["latest", "v3", "V12", "has space", "", "9lives"])
def test_unusable_aliases_are_refused(alias):
    with pytest.raises(SpecError, match="--alias"):
        check_alias(alias)
    assert check_alias("champion") == "champion"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--margin", "-0.1"], "--margin: must be >= 0"),
        (["--alias", "latest"], "--alias: 'latest'"),
    ],
)
def test_bad_retrain_arguments_stop_before_anything_is_recorded(
    tmp_path, monkeypatch, capsys, args, message
):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "data: {source: 'sklearn:iris'}\nmodel: {family: knn}\nobjective: {metric: accuracy}\ntracking: {mlflow_uri: 'sqlite:///mlflow.db'}\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["retrain", str(spec), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / ".kubetune").exists()


def test_the_retrain_flow_checks_its_own_parameters_before_any_work(tmp_path, monkeypatch):
    """A Prefect deployment or a CronJob passes margin and alias without the CLI: the flow checks them first."""
    from kubetune.flows.retrain import retrain

    monkeypatch.chdir(tmp_path)
    spec = {
        "data": {"source": "sklearn:iris"},
        "model": {"family": "knn"},
        "objective": {"metric": "accuracy"},
        "tracking": {"mlflow_uri": "sqlite:///mlflow.db"},
    }
    with pytest.raises(SpecError, match=r"--margin: must be >= 0 \(the metric's units\), got nan"):
        retrain.fn(spec, margin=float("nan"))
    with pytest.raises(SpecError, match="--alias: 'v2'"):
        retrain.fn(spec, alias="v2")
    assert list(tmp_path.iterdir()) == []  # nothing read, prepared or recorded
