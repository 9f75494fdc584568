import optuna
import pytest

from kubetune.components.search.interleaved_sampler import InterleavedSampler, is_random_turn
from kubetune.components.search.samplers import (
    WARM_MODEL_ONLY_TRIALS,
    WARM_RANDOM_EVERY,
    build_sampler,
)
from kubetune.components.spec import ParamSpec

X = {"x": ParamSpec(type="float", low=0, high=1)}
SEARCH_SPACE = {"x": optuna.distributions.FloatDistribution(0, 1)}


def test_random_turns_start_at_the_given_trial_and_come_every_nth_trial():
    assert [n for n in range(20) if is_random_turn(n, start=3, every=5)] == [7, 12, 17]
    assert not any(is_random_turn(n, start=0, every=0) for n in range(50))  # 0: never random


@pytest.mark.parametrize(
    "name, model", [("tpe", optuna.samplers.TPESampler), ("gp", optuna.samplers.GPSampler)]
)
def test_a_warm_started_model_interleaves_random_draws_after_its_model_only_trials_and_a_cold_one_does_not(
    name, model
):
    warm = build_sampler(name, X, 0, 1, 1, n_warm_trials=3)
    assert isinstance(warm, InterleavedSampler) and isinstance(warm.model, model)
    assert (warm.start, warm.every) == (3 + WARM_MODEL_ONLY_TRIALS, WARM_RANDOM_EVERY)
    assert isinstance(build_sampler(name, X, 0, 1, 1), model)


@pytest.fixture(scope="module")
def warm_study():
    """A seeded warm-started study (3 enqueued trials) run one trial past its first random turn."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = build_sampler("tpe", X, 7, 1, 1, n_warm_trials=3)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for value in (0.1, 0.2, 0.3):
        study.enqueue_trial({"x": value})
    first_random = next(n for n in range(200) if is_random_turn(n, sampler.start, sampler.every))
    study.optimize(lambda t: -abs(t.suggest_float("x", 0, 1) - 0.2), n_trials=first_random + 1)
    return sampler, study, first_random


def test_tpe_proposes_every_trial_up_to_the_first_random_turn(warm_study):
    sampler, study, first_random = warm_study
    for trial in study.trials[3:first_random]:
        assert sampler.sample_relative(
            study, trial, SEARCH_SPACE
        )  # the model's proposal, not a random draw


def test_on_a_random_turn_the_model_is_not_asked_and_the_explorer_draws_the_value(warm_study):
    sampler, study, first_random = warm_study
    trial = study.trials[first_random]
    assert sampler.infer_relative_search_space(study, trial) == {}
    assert sampler.sample_relative(study, trial, SEARCH_SPACE) == {}
    fresh_explorer = optuna.samplers.RandomSampler(
        seed=7 + 1
    )  # the explorer's seed: the study's seed + 1
    assert trial.params["x"] == fresh_explorer.sample_independent(
        study, trial, "x", SEARCH_SPACE["x"]
    )


def test_the_parent_run_records_the_interleaving_only_when_a_warm_start_set_it():
    from kubetune.components.search import unstated_settings

    assert unstated_settings("tpe", 4) == {
        "kubetune.sampler.startup_trials": "4",
        "kubetune.sampler.random_from_trial": str(4 + WARM_MODEL_ONLY_TRIALS),
        "kubetune.sampler.random_every": str(WARM_RANDOM_EVERY),
    }
    assert unstated_settings("tpe", 0) == {"kubetune.sampler.startup_trials": "10"}
    assert unstated_settings("gp", 4) == unstated_settings(
        "tpe", 4
    )  # the Gaussian process is run the same way
    assert unstated_settings("cmaes", 4) == {}
