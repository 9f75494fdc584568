import optuna
import pytest

from kubetune.components.core import SpecError
from kubetune.components.models import family_names, get_family
from kubetune.components.search.space import (
    grid,
    is_active,
    resolve_space,
    space_fingerprint,
    suggest,
)
from kubetune.components.spec import ParamSpec, parse_spec


def space_of(raw):
    return {k: ParamSpec.model_validate(v) for k, v in raw.items()}


SVM_LIKE = space_of(
    {
        "kernel": {"type": "categorical", "choices": ["rbf", "linear", "poly"]},
        "gamma": {
            "type": "float",
            "low": 1e-4,
            "high": 1,
            "log": True,
            "when": {"kernel": ["rbf", "poly"]},
        },
        "degree": {"type": "int", "low": 2, "high": 4, "when": {"kernel": "poly"}},
        "n": {"type": "int", "low": 10, "high": 100, "step": 10},
    }
)


def test_conditional_parameters_are_sampled_only_when_their_condition_holds():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen_kernels = set()
    for _ in range(60):
        trial = study.ask()
        params = suggest(trial, SVM_LIKE)
        study.tell(trial, 0.0)
        seen_kernels.add(params["kernel"])
        assert ("gamma" in params) == (params["kernel"] in ("rbf", "poly"))
        assert ("degree" in params) == (params["kernel"] == "poly")
        assert params["n"] % 10 == 0 and 10 <= params["n"] <= 100
        assert trial.params == params  # Optuna recorded exactly the active parameters
    assert seen_kernels == {"rbf", "linear", "poly"}


def test_log_float_stays_in_bounds():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        trial = study.ask()
        value = suggest(
            trial, SVM_LIKE | {"kernel": ParamSpec(type="categorical", choices=["rbf"])}
        )["gamma"]
        assert 1e-4 <= value <= 1
        study.tell(trial, 0.0)


def test_is_active_needs_an_active_parent():
    child = ParamSpec(type="int", low=1, high=2, when={"degree": 3})
    assert not is_active(child, {"kernel": "rbf"})
    assert is_active(child, {"degree": 3})


def test_grid_lists_every_point_and_names_unsupported_parameters():
    values = grid(
        space_of(
            {
                "a": {"type": "int", "low": 1, "high": 3},
                "b": {"type": "float", "low": 0, "high": 1, "step": 0.25},
            }
        )
    )
    assert values == {"a": [1, 2, 3], "b": [0.0, 0.25, 0.5, 0.75, 1.0]}
    with pytest.raises(SpecError, match="model.space.c: the grid sampler needs a 'step'"):
        grid(space_of({"c": {"type": "float", "low": 0, "high": 1}}))
    with pytest.raises(
        SpecError, match="model.space.gamma: the grid sampler cannot search conditional"
    ):
        grid(SVM_LIKE)


@pytest.mark.parametrize("family", family_names())
def test_every_family_has_a_valid_default_space_for_each_task(family):
    for task in sorted(get_family(family).tasks):
        spec = parse_spec(
            {
                "data": {"source": "x.csv", "task": task},
                "model": {"family": family},
                "objective": {"metric": "r2" if task == "regression" else "accuracy"},
            }
        )
        space = resolve_space(spec, task)
        assert space, f"{family} has an empty default space for {task}"
        study = optuna.create_study()
        assert suggest(study.ask(), space)


def test_fixed_params_are_removed_from_the_default_space():
    spec = parse_spec(
        {
            "data": {"source": "x.csv"},
            "model": {"family": "random_forest", "params": {"max_depth": 4}},
            "objective": {"metric": "accuracy"},
        }
    )
    assert "max_depth" not in resolve_space(spec, "classification")


def test_space_fingerprint_changes_with_the_space():
    base = space_of({"a": {"type": "int", "low": 1, "high": 3}})
    assert space_fingerprint(base) == space_fingerprint(
        space_of({"a": {"type": "int", "low": 1, "high": 3}})
    )
    assert space_fingerprint(base) != space_fingerprint(
        space_of({"a": {"type": "int", "low": 1, "high": 4}})
    )


def knn_spec(**model):
    return parse_spec(
        {
            "data": {"source": "x.csv"},
            "model": {"family": "knn", **model},
            "objective": {"metric": "accuracy"},
        }
    )


def test_knn_default_space_is_fitted_to_the_rows_a_fold_trains_on():
    assert (
        resolve_space(knn_spec(), "classification", fit_rows=1000)["n_neighbors"].high == 50
    )  # large data: as declared
    small = resolve_space(knn_spec(), "classification", fit_rows=21)["n_neighbors"]
    assert (small.low, small.high, small.log) == (1, 21, True)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    assert (
        max(suggest(study.ask(), {"n_neighbors": small})["n_neighbors"] for _ in range(200)) <= 21
    )


def test_knn_space_or_fixed_value_the_user_wrote_beyond_the_rows_is_a_one_line_error():
    too_many = {"n_neighbors": {"type": "int", "low": 1, "high": 30}}
    with pytest.raises(
        SpecError,
        match=r"^model.space.n_neighbors: 30 is more than the 21 rows the smallest cross-validation split trains on; knn cannot use more n_neighbors than training rows$",
    ):
        resolve_space(knn_spec(space=too_many), "classification", fit_rows=21)
    with pytest.raises(SpecError, match=r"^model.space.n_neighbors: 40 is more"):
        resolve_space(
            knn_spec(space={"n_neighbors": {"type": "categorical", "choices": [3, 40]}}),
            "classification",
            fit_rows=21,
        )
    with pytest.raises(SpecError, match=r"^model.params.n_neighbors: 25 is more"):
        resolve_space(knn_spec(params={"n_neighbors": 25}), "classification", fit_rows=21)
    assert (
        resolve_space(knn_spec(space=too_many), "classification", fit_rows=30)["n_neighbors"].high
        == 30
    )  # exactly the rows: fine
    assert (
        resolve_space(knn_spec(space=too_many), "classification")["n_neighbors"].high == 30
    )  # rows unknown: nothing to check
