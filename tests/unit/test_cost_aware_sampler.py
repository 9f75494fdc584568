"""``sampler: auto``'s Gaussian process gives way to TPE when its asks cost too much of the study's time."""

from __future__ import annotations

import optuna
import pytest

from kubetune.components.core import SAMPLER_SWITCHED_AT_ATTR
from kubetune.components.search import CostAwareSampler, choose_sampler
from kubetune.components.search.cost_aware_sampler import (
    MAX_ASK_SHARE,
    ask_share,
    should_switch,
)
from kubetune.components.spec import ParamSpec

SPACE = {
    "x": ParamSpec(type="float", low=-2.0, high=2.0),
    "y": ParamSpec(type="float", low=0, high=1),
}


def test_the_share_is_the_ask_over_the_time_between_trials_finishing():
    # 1 s trials on 4 workers finish every 0.25 s; a 0.05 s ask is a fifth of that
    assert ask_share(0.05, 1.0, 4) == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("asks", "trials", "parallelism", "switch"),
    [
        ([0.3] * 4, [0.5] * 10, 2, False),  # too few asks measured to judge
        ([0.3] * 5, [0.5] * 2, 2, False),  # too few trials measured to judge
        ([0.3] * 5, [0.5] * 5, 2, True),  # 0.3 s asks, a trial finishing every 0.25 s
        ([0.3] * 5, [60.0] * 5, 8, False),  # minute-long pods: the GP is noise
        ([5.0] * 3 + [0.01] * 5, [1.0] * 5, 1, False),  # judged on the latest asks
    ],
)
def test_the_switch_rule(asks, trials, parallelism, switch):
    assert should_switch(asks, trials, parallelism) is switch


def test_auto_picks_the_gp_with_tpe_as_its_fallback_and_says_so():
    choice = choose_sampler("auto", SPACE, 30, 1)
    assert (choice.name, choice.fallback) == ("gp", "tpe")
    assert f"{MAX_ASK_SHARE:.0%}" in choice.reason
    assert choose_sampler("gp", SPACE, 30, 1).fallback is None  # named in the spec: kept


def run(study, sampler, n, trial_seconds):
    proposed_by_model = []
    for _ in range(n):
        before = len(sampler.ask_seconds)
        trial = study.ask()
        x, y = trial.suggest_float("x", -2, 2), trial.suggest_float("y", 0, 1)
        proposed_by_model.append(len(sampler.ask_seconds) > before)
        study.tell(trial, (x - 0.5) ** 2 + y)
        sampler.observe_trial(trial_seconds)
    return proposed_by_model


def gp_then_tpe(parallelism=2):
    gp = optuna.samplers.GPSampler(seed=0, n_startup_trials=3)
    tpe = optuna.samplers.TPESampler(seed=0, n_startup_trials=3)
    return CostAwareSampler(gp, tpe, parallelism)


def test_cheap_trials_hand_the_study_to_tpe_and_the_study_remembers(tmp_path):
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "s.journal"))
    )
    sampler = gp_then_tpe()
    study = optuna.create_study(study_name="cheap", storage=storage, sampler=sampler)
    by_model = run(study, sampler, 14, trial_seconds=0.001)  # a GP ask costs far more than that
    decision = sampler.decision
    # 3 random start-up trials, 5 GP proposals measured, then TPE from the next trial on
    assert decision is not None and decision.at_trial == 8
    assert by_model == [False] * 3 + [True] * 5 + [False] * 6
    assert decision.share > MAX_ASK_SHARE and "tpe proposes the rest" in decision.describe(
        "gp", "tpe"
    )
    assert study.user_attrs[SAMPLER_SWITCHED_AT_ATTR] == 8

    resumed = gp_then_tpe()
    study = optuna.load_study(study_name="cheap", storage=storage, sampler=resumed)
    assert run(study, resumed, 3, trial_seconds=100.0) == [False] * 3  # TPE goes on after a resume
    assert resumed.ask_seconds == [] and resumed.decision is None


def test_slow_trials_keep_the_gp():
    sampler = gp_then_tpe(parallelism=1)
    study = optuna.create_study(sampler=sampler)
    by_model = run(study, sampler, 12, trial_seconds=600.0)
    assert sampler.decision is None and by_model[3:] == [True] * 9
    assert SAMPLER_SWITCHED_AT_ATTR not in study.user_attrs
