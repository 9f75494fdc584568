import warnings

import optuna
import pytest

from kubetune.components.core import SpecError
from kubetune.components.search.samplers import build_sampler, choose_sampler, effective_trials
from kubetune.components.spec import ParamSpec


def space_of(raw):
    return {k: ParamSpec.model_validate(v) for k, v in raw.items()}


NUMERIC = space_of(
    {"a": {"type": "float", "low": 0, "high": 1}, "b": {"type": "int", "low": 1, "high": 9}}
)
MIXED = NUMERIC | space_of({"c": {"type": "categorical", "choices": ["x", "y"]}})
CONDITIONAL = space_of(
    {
        "k": {"type": "categorical", "choices": ["x", "y"]},
        "g": {"type": "float", "low": 0, "high": 1, "when": {"k": "x"}},
    }
)
SMALL_GRID = space_of(
    {
        "c": {"type": "categorical", "choices": ["x", "y"]},
        "d": {"type": "categorical", "choices": [1, 2, 3]},
    }
)


@pytest.mark.parametrize(
    "space, n_trials, n_objectives, expected",
    [
        (NUMERIC, 50, 1, "gp"),
        (NUMERIC, 1000, 1, "tpe"),
        (MIXED, 50, 1, "tpe"),
        (CONDITIONAL, 50, 1, "tpe"),
        (SMALL_GRID, 10, 1, "grid"),
        (SMALL_GRID, 4, 1, "tpe"),
        (NUMERIC, 50, 2, "tpe"),
        (NUMERIC, 500, 2, "nsga2"),
    ],
)
def test_auto_policy(space, n_trials, n_objectives, expected):
    choice = choose_sampler("auto", space, n_trials, n_objectives)
    assert choice.name == expected and choice.reason


def test_explicit_sampler_is_kept():
    assert choose_sampler("cmaes", MIXED, 10, 1).name == "cmaes"


@pytest.mark.parametrize(
    "name, cls",
    [
        ("random", optuna.samplers.RandomSampler),
        ("tpe", optuna.samplers.TPESampler),
        ("gp", optuna.samplers.GPSampler),
        ("cmaes", optuna.samplers.CmaEsSampler),
        ("nsga2", optuna.samplers.NSGAIISampler),
        ("grid", optuna.samplers.GridSampler),
        ("qmc", optuna.samplers.QMCSampler),
        ("nsga3", optuna.samplers.NSGAIIISampler),
    ],
)
def test_build_sampler_returns_optunas_sampler_without_an_experimental_warning(name, cls):
    """The spec names the sampler: Optuna's "experimental" warning (QMC) would only be noise in the CLI's output."""
    space = SMALL_GRID if name == "grid" else NUMERIC
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert isinstance(build_sampler(name, space, 0, 1, 2), cls)
    assert not [w for w in caught if issubclass(w.category, optuna.exceptions.ExperimentalWarning)]


def test_cmaes_refuses_several_objectives():
    with pytest.raises(SpecError, match="search.sampler: cmaes optimizes one objective"):
        build_sampler("cmaes", NUMERIC, 0, 2, 1)


def test_grid_budget_is_capped_at_the_grid_size():
    assert effective_trials("grid", SMALL_GRID, 100) == 6
    assert effective_trials("tpe", SMALL_GRID, 100) == 100


def test_the_grid_is_covered_by_ask_and_tell_without_stopping_the_study():
    """The controller asks and tells; Optuna's GridSampler would call study.stop() on the last point,
    which raises outside study.optimize."""
    from kubetune.components.search import suggest

    study = optuna.create_study(sampler=build_sampler("grid", SMALL_GRID, 0, 1, 1))
    for _ in range(effective_trials("grid", SMALL_GRID, 100)):
        trial = study.ask()
        study.tell(trial, float(len(str(suggest(trial, SMALL_GRID)))))
    points = {tuple(sorted(t.params.items())) for t in study.trials}
    assert len(points) == 6 and all(t.state.name == "COMPLETE" for t in study.trials)


def test_cmaes_is_built_with_past_trials_as_its_warm_start_source():
    space = {"x": ParamSpec(type="float", low=-1, high=1)}
    dist = {"x": optuna.distributions.FloatDistribution(-1, 1)}
    sources = [
        optuna.trial.create_trial(params={"x": i / 20}, distributions=dist, value=float(i))
        for i in range(10)
    ]
    sampler = build_sampler("cmaes", space, 0, 1, 1, sources)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: -abs(t.suggest_float("x", -1, 1) - 0.45), n_trials=4)
    assert sampler._source_trials == sources and len(study.trials) == 4


def _study_after_warm_trials(sampler, n_warm):
    """A study whose first ``n_warm`` trials were enqueued (as a warm start enqueues past configurations)."""
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for i in range(n_warm):
        study.enqueue_trial({"x": 0.1 * i})
    study.optimize(lambda t: -abs(t.suggest_float("x", -1, 1) - 0.2), n_trials=n_warm)
    return study


@pytest.mark.parametrize("name", ["tpe", "gp"])
def test_the_model_proposes_right_after_the_warm_trials_instead_of_drawing_random_start_up_trials(
    name,
):
    space = {"x": ParamSpec(type="float", low=-1, high=1)}
    search_space = {"x": optuna.distributions.FloatDistribution(-1, 1)}
    warm = build_sampler(name, space, 0, 1, 1, n_warm_trials=3)
    study = _study_after_warm_trials(warm, 3)
    assert warm.sample_relative(
        study, study.ask(), search_space
    )  # the model proposes the 4th trial
    cold = build_sampler(name, space, 0, 1, 1)
    study = _study_after_warm_trials(cold, 3)
    assert (
        cold.sample_relative(study, study.ask(), search_space) == {}
    )  # still in its random start-up
