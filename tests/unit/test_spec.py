from pathlib import Path

import pytest

from kubetune.components.core import SpecError
from kubetune.components.spec import load_spec, parse_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "breast_cancer_rf.yaml"


def minimal(**changes):
    spec = {
        "data": {"source": "sklearn:breast_cancer"},
        "model": {"family": "random_forest"},
        "objective": {"metric": "roc_auc"},
    }
    for dotted, value in changes.items():
        node = spec
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return spec


def error_of(raw) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_example_spec_parses_with_every_documented_field():
    spec = load_spec(EXAMPLE)
    assert spec.study_name == "breast-cancer-rf"
    assert spec.model.space["n_estimators"].log is True
    assert spec.objective.directions == ["maximize"]
    assert spec.search.parallelism == 2 and spec.executor.kind == "local"


def test_minimal_spec_gets_defaults_and_a_derived_study_name():
    spec = parse_spec(minimal())
    assert spec.study_name == "breast_cancer-random_forest"
    assert spec.search.sampler == "auto" and spec.search.seed == 42
    assert spec.objective.directions == ["maximize"]


@pytest.mark.parametrize(
    "raw",
    [
        minimal(),
        minimal(data__source="d.csv", data__separator=";", data__decimal=","),
        minimal(data__source="d.pq", model__family="knn"),
    ],
)
def test_a_spec_dumped_with_its_defaults_parses_again(raw):
    """The flow re-reads the spec from ``model_dump``, defaults written out: a check keyed on which fields
    were written refused every bundled dataset there (data.separator "applies to CSV sources only")."""
    spec = parse_spec(raw)
    assert parse_spec(spec.model_dump(mode="json", exclude_none=True)) == spec


def test_direction_defaults_to_the_metrics_natural_one():
    assert parse_spec(minimal(objective={"metric": ["rmse", "r2"]})).objective.directions == [
        "minimize",
        "maximize",
    ]


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"model__family": "xgboostt"}, "model.family: unknown model family 'xgboostt'"),
        ({"objective__metric": "auc"}, "objective.metric: unknown metric 'auc'"),
        (
            {"model__space": {"max_depth": {"type": "int", "low": 40, "high": 32}}},
            "model.space.max_depth: low (40) is greater than high (32)",
        ),
        (
            {"model__space": {"C": {"type": "float", "low": 0, "high": 1, "log": True}}},
            "model.space.C: log range needs low > 0, got low = 0",
        ),
        (
            {"model__space": {"k": {"type": "categorical", "choices": []}}},
            "model.space.k: categorical needs a non-empty 'choices' list",
        ),
        (
            {"model__space": {"d": {"type": "int", "low": 1.5, "high": 3}}},
            "model.space.d: int needs an integer 'low'",
        ),
        ({"search__n_trails": 5}, "search.n_trails: unknown field"),
        ({"search__sampler": "bayes"}, "search.sampler:"),
        ({"search__n_trials": 0}, "search.n_trials:"),
        ({"data__test_size": 1.5}, "data.test_size:"),
        ({"data__source": "data.txt"}, "data.source: 'data.txt' is not sklearn:<name>"),
        (
            {"data__missing_values": ["?"]},
            "data.missing_values: applies to CSV sources only, and 'sklearn:breast_cancer' is not one",
        ),
        (
            {"data__source": "s3://b/k.parquet", "data__missing_values": ["?"]},
            "data.missing_values: applies to CSV sources only, and 's3://b/k.parquet'",
        ),
        (
            {"data__source": "d.csv", "data__missing_values": "?"},
            "data.missing_values: Input should be a valid list",
        ),
        (
            {"data__separator": ";"},
            "data.separator: applies to CSV sources only, and 'sklearn:breast_cancer' is not one",
        ),
        (
            {"data__source": "d.csv", "data__separator": ":"},
            "data.separator: Input should be ',', ';', '\\t' or '|'",
        ),
        (
            {"data__source": "d.csv", "data__decimal": ","},
            "data.decimal: ',' is also the separator",
        ),
        (
            {"data__source": "d.csv", "data__encoding": "latin-9x"},
            "data.encoding: unknown text encoding 'latin-9x'",
        ),
        ({"data__encoding": "cp1252"}, "data.encoding: applies to CSV sources only"),
        (
            {"data__drop": ["id", "target"]},
            "data.drop: 'target' is the target column; drop lists feature columns never used",
        ),
        (
            {"objective__direction": "minimize"},
            "objective.direction: minimize for 'roc_auc', which is better when higher",
        ),
        ({"study": "bad name!"}, "study: 'bad name!' must be"),
        (
            {
                "model__space": {
                    "gamma": {"type": "float", "low": 0.1, "high": 1, "when": {"kernel": "rbf"}}
                }
            },
            "model.space.gamma.when: 'kernel' is not a parameter",
        ),
        (
            {
                "model__space": {
                    "kernel": {"type": "categorical", "choices": ["rbf"]},
                    "gamma": {"type": "float", "low": 0.1, "high": 1, "when": {"kernel": "poly"}},
                }
            },
            "model.space.gamma.when: kernel never takes 'poly'",
        ),
        (
            {
                "model__space": {"max_depth": {"type": "int", "low": 1, "high": 3}},
                "model__params": {"max_depth": 3},
            },
            "model.params.max_depth: 'max_depth' is both searched",
        ),
        (
            {"warm_start": "yes"},
            "warm_start.mode: Input should be 'none', 'same_pipeline', 'similar_datasets' or 'auto', got 'yes'",
        ),
        ({"warm_start": {"mode": "auto", "k_nearest": 0}}, "warm_start.k_nearest:"),
        ({"warm_start": {"mode": "auto", "neighbours": 3}}, "warm_start.neighbours: unknown field"),
        (
            {"search__pruner": "asha"},
            "search.pruner.kind: Input should be 'none', 'median', 'successive_halving' or 'hyperband', got 'asha'",
        ),
        (
            {"search__pruner": {"kind": "hyperband", "min_resource": 9, "max_resource": 3}},
            "search.pruner.max_resource: must be greater than min_resource (9)",
        ),
        (
            {"search__pruner": {"kind": "successive_halving", "reduction_factor": 1}},
            "search.pruner.reduction_factor:",
        ),
        (
            {"search__pruner": "median", "objective__metric": ["roc_auc", "inference_ms"]},
            "search.pruner: pruning needs a single objective",
        ),
        (
            {"search__strategy": "pbt"},
            "search.strategy: pbt needs a PyTorch family that checkpoints; 'random_forest' does not",
        ),
        (
            {"search__strategy": "pbt", "model__family": "torch_mlp", "search__pruner": "median"},
            "search.pruner: pbt decides itself",
        ),
        (
            {
                "search__strategy": "pbt",
                "model__family": "torch_mlp",
                "warm_start": {"narrow_space": True},
            },
            "warm_start.narrow_space: pbt members explore the whole space",
        ),
        ({"search__pbt": {"population": 1}}, "search.pbt.population:"),
        (
            {
                "objective__metric": ["roc_auc", "inference_ms"],
                "objective__select": {"best": "accuracy"},
            },
            "objective.select: 'accuracy' is not one of the objective's metrics",
        ),
        (
            {
                "objective__metric": ["roc_auc", "inference_ms"],
                "objective__select": {"where": {"inference_ms": {}}},
            },
            "objective.select.where.inference_ms: give min, max or both",
        ),
    ],
)
def test_bad_spec_names_the_field(changes, expected):
    assert expected in error_of(minimal(**changes))


def test_missing_section_is_named():
    raw = minimal()
    del raw["objective"]
    assert error_of(raw) == "objective: is required"


def test_load_spec_reports_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML at line"):
        load_spec(bad)


def test_cli_overrides_win_over_the_file():
    spec = load_spec(EXAMPLE, {"search.n_trials": 12, "study": "other", "search.seed": None})
    assert spec.search.n_trials == 12 and spec.study_name == "other" and spec.search.seed == 42


def test_custom_family_path_is_accepted_without_import():
    assert (
        parse_spec(minimal(model__family="mypkg.families:Mine")).model.family
        == "mypkg.families:Mine"
    )


def test_warm_start_takes_a_mode_alone_or_settings_and_defaults_to_auto():
    assert parse_spec(minimal()).warm_start.mode == "auto"
    assert parse_spec(minimal(warm_start="none")).warm_start.mode == "none"
    spec = parse_spec(minimal(warm_start={"mode": "similar_datasets", "k_nearest": 5}))
    assert (spec.warm_start.mode, spec.warm_start.k_nearest, spec.warm_start.top_k) == (
        "similar_datasets",
        5,
        3,
    )


def test_pipeline_identity_is_the_same_for_a_rerun_and_can_be_named():
    first, rerun = parse_spec(minimal(study="a")), parse_spec(minimal(study="b"))
    assert first.pipeline == rerun.pipeline == "random_forest|sklearn:breast_cancer|target|roc_auc"
    assert parse_spec(minimal(data__source="sklearn:wine")).pipeline != first.pipeline
    assert parse_spec(minimal(warm_start={"pipeline": "churn-daily"})).pipeline == "churn-daily"


def test_pruner_and_pbt_short_forms_get_defaults():
    spec = parse_spec(minimal(search__pruner="hyperband"))
    # the reduction factor is left to the family (kubetune.components.search.pruners.resolve_pruner)
    assert spec.search.pruner.kind == "hyperband" and spec.search.pruner.reduction_factor is None
    pbt = parse_spec(minimal(model__family="torch_nas", search__strategy="pbt")).search.pbt
    assert (pbt.population, pbt.generations, pbt.interval, pbt.quantile) == (8, 5, 4, 0.25)


def test_packing_reads_its_short_form_and_refuses_population_based_training():
    base = {
        "data": {"source": "x.csv", "target": "y"},
        "model": {"family": "torch_mlp"},
        "objective": {"metric": "accuracy"},
    }
    packing = parse_spec({**base, "executor": {"packing": 8}}).executor.packing
    assert packing.trials == 8 and packing.mode == "auto" and packing.packs
    assert not parse_spec(base).executor.packing.packs
    with pytest.raises(SpecError) as refused:
        parse_spec({**base, "search": {"strategy": "pbt"}, "executor": {"packing": 4}})
    assert str(refused.value) == (
        "executor.packing: pbt trains its population member by member; leave packing out"
    )


@pytest.mark.parametrize(
    "repeats, message",
    [
        (0, "analysis.repeats: must be 1 to 10 or auto, got 0"),
        ("many", "analysis.repeats: must be 1 to 10 or auto, got 'many'"),
    ],
)
def test_analysis_repeats_are_a_count_or_auto(repeats, message):
    base = {
        "data": {"source": "x.csv", "target": "y"},
        "model": {"family": "knn"},
        "objective": {"metric": "accuracy"},
    }
    assert parse_spec(base).analysis.repeats == "auto"
    assert parse_spec({**base, "analysis": {"repeats": 4}}).analysis.repeats == 4
    with pytest.raises(SpecError) as refused:
        parse_spec({**base, "analysis": {"repeats": repeats}})
    assert message in str(refused.value) and "\n" not in str(refused.value)
