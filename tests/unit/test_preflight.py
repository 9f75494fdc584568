import numpy as np
import pandas as pd
import pytest

from kubetune.components.core import SpecError
from kubetune.components.models import family_names, get_family
from kubetune.components.pipeline.preflight_checks import check_data
from kubetune.components.search import resolve_space
from kubetune.components.spec import parse_spec


def spec(**data):
    return parse_spec(
        {
            "data": {"source": "x.csv", **data},
            "model": {"family": data.pop("family", "random_forest")},
            "objective": {"metric": data.pop("metric", "accuracy")},
        }
    )


def frame(n=60):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "target": [0, 1] * (n // 2)}
    )


def test_good_data_gives_facts():
    facts = check_data(spec(), frame())
    assert (facts.task, facts.n_classes, facts.validation, facts.n_features) == (
        "classification",
        2,
        "stratified_kfold",
        2,
    )


def test_a_date_column_is_named_before_any_trial_and_dropping_it_is_enough():
    dated = frame().assign(signed_up=pd.date_range("2024-01-01", periods=60))
    with pytest.raises(
        SpecError,
        match=r"^data.source: column 'signed_up' holds datetime64\[\w+\] values, which kubetune does not encode; list it in data.drop",
    ):
        check_data(spec(), dated)
    assert check_data(spec(drop=["signed_up"]), dated).n_features == 2


def test_infinite_feature_values_are_counted_and_named_before_any_trial():
    """pandas reads "inf" in a CSV as infinity; every trial (and the landmarkers) failed on it."""
    bad = frame().astype({"a": float})
    bad.loc[[3, 7], "a"] = [np.inf, -np.inf]
    with pytest.raises(
        SpecError,
        match=r"^data.source: column 'a' has 2 infinite value\(s\) \(inf, -inf\), which no model can fit",
    ):
        check_data(spec(), bad)
    assert check_data(spec(drop=["a"]), bad).n_features == 1


def test_landmarkers_a_model_cannot_fit_are_left_out_not_fatal():
    """Meta-features serve the warm start; data the landmark models cannot fit must not stop the job
    (the trials, which fit the same preprocessing, report the cause one line each)."""
    from kubetune.components.data import compute_meta_features

    bad = frame().astype({"a": float})
    bad.loc[3, "a"] = np.inf
    features = compute_meta_features(bad[["a", "b"]], bad["target"], "classification", seed=0)
    assert features["n_rows"] == 60 and not any(name.startswith("landmark_") for name in features)


@pytest.mark.parametrize(
    "labels, chosen, expected",
    [
        ([0, 1], None, 1),
        ([False, True], None, True),
        (
            ["stayed", "churned"],
            None,
            "stayed",
        ),  # the later label in sort order, as roc_auc reads it
        (["stayed", "churned"], "churned", "churned"),
        ([0, 1], 0, 0),
    ],
)
def test_the_positive_class_is_the_spec_s_or_the_later_label(labels, chosen, expected):
    data = frame().assign(target=labels * 30)
    facts = check_data(
        parse_spec(
            {
                "data": {"source": "x.csv", "target": "target"},
                "model": {"family": "random_forest"},
                "objective": {"metric": "f1", "positive_class": chosen},
            }
        ),
        data,
    )
    assert facts.positive_class == expected and type(facts.positive_class) is type(expected)


def test_a_positive_class_the_target_does_not_have_is_named_with_the_labels():
    data = frame().assign(target=["stayed", "churned"] * 30)
    objective = {"metric": "f1", "positive_class": "churn"}
    with pytest.raises(
        SpecError,
        match=r"^objective.positive_class: 'churn' is not a class of 'target' \('churned', 'stayed'\)$",
    ):
        check_data(
            parse_spec(
                {
                    "data": {"source": "x.csv", "target": "target"},
                    "model": {"family": "random_forest"},
                    "objective": objective,
                }
            ),
            data,
        )
    three = frame().assign(target=["a", "b", "c"] * 20)
    objective = {"metric": "f1", "positive_class": "a"}
    with pytest.raises(
        SpecError,
        match=r"^objective.positive_class: only a two-class target has one; 'target' has 3 classes$",
    ):
        check_data(
            parse_spec(
                {
                    "data": {"source": "x.csv", "target": "target"},
                    "model": {"family": "random_forest"},
                    "objective": objective,
                }
            ),
            three,
        )


def test_missing_target_column_lists_columns():
    with pytest.raises(
        SpecError, match=r"data.target: column 'label' not found in x.csv \(columns: a, b, target\)"
    ):
        check_data(spec(target="label"), frame())


def test_nan_targets_are_counted():
    data = frame()
    data.loc[[1, 2, 3], "target"] = None
    with pytest.raises(SpecError, match="data.target: 3 of 60 rows have no target value"):
        check_data(spec(), data)


def test_a_class_the_csv_reader_takes_for_missing_is_named_in_the_error(tmp_path):
    """R's Arthritis data has the class "None": pandas reads it as NaN, so the message must say why."""
    from kubetune.components.data.frames import read_source

    (tmp_path / "arthritis.csv").write_text("age,improved\n27,Some\n29,None\n30,Marked\n")
    with pytest.raises(
        SpecError, match=r"1 of 3 rows have no target value .*None.*a class named None"
    ):
        check_data(spec(target="improved"), read_source(str(tmp_path / "arthritis.csv")))


def test_empty_data():
    with pytest.raises(SpecError, match="data.source: 'x.csv' has no rows"):
        check_data(spec(), frame().iloc[:0])


def test_metric_must_fit_the_task():
    data = frame()
    data["target"] = np.linspace(0, 1, len(data))
    with pytest.raises(
        SpecError, match="objective.metric: 'accuracy' does not fit a regression task"
    ):
        check_data(spec(), data)


def test_family_must_serve_the_task():
    data = frame()
    data["target"] = np.linspace(0, 1, len(data))
    bad = parse_spec(
        {
            "data": {"source": "x.csv"},
            "model": {"family": "logistic_regression"},
            "objective": {"metric": "r2"},
        }
    )
    with pytest.raises(SpecError, match="model.family: logistic_regression does not do regression"):
        check_data(bad, data)


def test_single_class_and_too_few_rows():
    data = frame()
    data["target"] = 1
    with pytest.raises(SpecError, match="single class"):
        check_data(spec(), data)
    with pytest.raises(SpecError, match="validation.folds"):
        check_data(spec(), frame(8))


def test_a_cnn_image_shape_that_the_features_cannot_form_is_caught_before_any_trial():
    def cnn(params):
        return parse_spec(
            {
                "data": {"source": "x.csv"},
                "model": {"family": "torch_cnn", "params": params},
                "objective": {"metric": "accuracy"},
            }
        )

    rng = np.random.default_rng(0)
    pixels = pd.DataFrame(rng.normal(size=(60, 64)), columns=[f"p{i}" for i in range(64)]).assign(
        target=[0, 1] * 30
    )
    assert check_data(cnn({}), pixels).n_features == 64  # auto: 1x8x8
    assert check_data(cnn({"image_shape": "1x8x8"}), pixels).n_features == 64
    with pytest.raises(
        SpecError,
        match="^model.params.image_shape: image_shape 3x3x3 has 27 values, the data has 64 features$",
    ):
        check_data(cnn({"image_shape": "3x3x3"}), pixels)
    with pytest.raises(
        SpecError,
        match="^model.params.image_shape: 2 features are not a square image; set image_shape: CxHxW$",
    ):
        check_data(cnn({}), frame())
    # a categorical column is one-hot encoded later, so its final width is unknown here: left to the trial
    assert check_data(cnn({}), frame().assign(colour=["red", "blue"] * 30)).n_features == 3


@pytest.mark.parametrize("n_rows", [23, 40, 61, 97])
@pytest.mark.parametrize(
    "strategy, folds",
    [
        ("stratified_kfold", 5),
        ("stratified_kfold", 3),
        ("kfold", 4),
        ("holdout", 5),
        ("time_series", 4),
    ],
)
def test_smallest_fit_rows_is_what_the_real_splits_train_on(n_rows, strategy, folds):
    from kubetune.components.data import split_holdout
    from kubetune.components.evaluation import splits
    from kubetune.components.pipeline.preflight_checks import smallest_fit_rows

    rng = np.random.default_rng(n_rows)
    data = pd.DataFrame(
        {"a": rng.normal(size=n_rows), "target": rng.permutation(np.arange(n_rows) % 3)}
    )
    parsed = parse_spec(
        {
            "data": {"source": "x.csv", "test_size": 0.25},
            "model": {"family": "knn"},
            "objective": {"metric": "accuracy"},
            "validation": {"strategy": strategy, "folds": folds, "val_size": 0.3},
        }
    )
    facts = check_data(parsed, data)
    train = split_holdout(
        data, "target", facts.task, 0.25, 0, time_ordered=strategy == "time_series"
    ).train
    fitted = [
        len(rows)
        for rows, _ in splits(
            strategy, train[["a"]], train["target"], facts.n_classes, folds, 0.3, 0
        )
    ]
    assert smallest_fit_rows(parsed, facts) == min(fitted)


def test_the_missing_target_message_names_the_users_missing_values(tmp_path):
    from kubetune.components.data.frames import read_source

    (tmp_path / "arthritis.csv").write_text("age,improved\n27,Some\n29,None\n30,?\n")
    chosen = spec(target="improved", missing_values=["?"])
    with pytest.raises(
        SpecError,
        match=r"1 of 3 rows have no target value \(NaN; data.missing_values reads these CSV cells as missing: '\?'\)",
    ):
        check_data(chosen, read_source(str(tmp_path / "arthritis.csv"), chosen.data.missing_values))


def _names_spec(model):
    return parse_spec(
        {"data": {"source": "x.csv"}, "model": model, "objective": {"metric": "accuracy"}}
    )


def test_a_misspelt_fixed_parameter_is_named_with_the_closest_real_one():
    """Without the check every trial (every pod) fails on the same TypeError."""
    from kubetune.components.pipeline.preflight_checks import check_parameter_names

    spec = _names_spec({"family": "ridge", "params": {"alhpa": 3.0}})
    with pytest.raises(
        SpecError,
        match=r"^model\.params\.alhpa: ridge has no parameter 'alhpa' \(did you mean 'alpha'\?\)$",
    ):
        check_parameter_names(spec, resolve_space(spec, "regression"), "regression")


def test_an_unknown_searched_parameter_lists_what_the_estimator_takes():
    from kubetune.components.pipeline.preflight_checks import check_parameter_names

    spec = _names_spec({"family": "knn", "space": {"zzz": {"type": "int", "low": 1, "high": 3}}})
    with pytest.raises(
        SpecError,
        match=r"^model\.space\.zzz: knn has no parameter 'zzz' \(it takes: algorithm, leaf_size, .*n_neighbors",
    ):
        check_parameter_names(spec, resolve_space(spec, "classification"), "classification")


@pytest.mark.parametrize("family", family_names())
def test_every_default_space_passes_the_name_check(family):
    from kubetune.components.pipeline.preflight_checks import check_parameter_names

    for task in sorted(get_family(family).tasks):
        spec = _names_spec({"family": family})
        space = resolve_space(spec, task)
        assert check_parameter_names(spec, space, task) == sorted(space)


def test_a_users_own_family_is_checked_through_the_same_build():
    from kubetune.components.pipeline.preflight_checks import check_parameter_names

    good = _names_spec({"family": "tests.families:DummyFamily", "params": {"constant": 1}})
    assert check_parameter_names(good, resolve_space(good, "classification"), "classification") == [
        "constant",
        "strategy",
    ]
    typo = _names_spec({"family": "tests.families:DummyFamily", "params": {"constnat": 1}})
    with pytest.raises(
        SpecError,
        match=r"^model\.params\.constnat: tests\.families:DummyFamily has no parameter 'constnat' \(did you mean 'constant'\?\)$",
    ):
        check_parameter_names(typo, resolve_space(typo, "classification"), "classification")


def test_a_build_that_refuses_a_value_is_left_to_the_trials():
    """RaiseFamily raises for x > 0.5 only: that is a trial's failure to record, not a spec error."""
    from kubetune.components.pipeline.preflight_checks import check_parameter_names

    spec = _names_spec(
        {
            "family": "tests.families:RaiseFamily",
            "space": {"x": {"type": "float", "low": 0.9, "high": 1.0}},
        }
    )
    assert check_parameter_names(spec, resolve_space(spec, "classification"), "classification") == [
        "x"
    ]


def test_too_rare_a_class_is_named_with_the_rows_it_would_need():
    """The error said "the rarest class has 2 rows" without saying which class: the user had to look."""
    rare = frame().assign(target=["common"] * 58 + ["churned"] * 2)
    with pytest.raises(SpecError) as error:
        check_data(spec(), rare)
    message = str(error.value)
    assert message.startswith(
        "validation.folds: the rarest class, 'churned', has 2 rows, too few for 5"
    )
    assert "it needs 7" in message


def test_independent_problems_of_the_data_are_said_together_in_one_line():
    """Fixing a missing target only to learn of a date column on the next run: both are said at once."""
    broken = frame().assign(signed_up=pd.date_range("2024-01-01", periods=60))
    broken.loc[[1, 5], "target"] = None
    broken.loc[3, "a"] = np.inf
    with pytest.raises(SpecError) as error:
        check_data(spec(), broken)
    message = str(error.value)
    assert "\n" not in message and len(message) <= 380
    assert message.startswith("data.source: column 'signed_up' holds datetime64")
    assert message.count(" -- and 2 more: ") == 1
    assert "data.source: column 'a' has 1 infinite value(s)" in message
    assert "data.target: 2 of 60 rows have no target value" in message
