import math

import optuna
import pytest

from kubetune.components.search import project
from kubetune.components.search.samplers import build_sampler
from kubetune.components.spec import ParamSpec
from kubetune.components.warmstart.planner import (
    CurrentStudy,
    PastConfig,
    PastStudy,
    cmaes_source_trials,
    meta_distances,
    plan_warm_start,
)


def space_of(raw):
    return {k: ParamSpec.model_validate(v) for k, v in raw.items()}


SPACE = space_of(
    {
        "n_estimators": {"type": "int", "low": 50, "high": 500, "log": True},
        "max_depth": {"type": "int", "low": 2, "high": 32},
        "criterion": {"type": "categorical", "choices": ["gini", "entropy"]},
        "lr": {"type": "float", "low": 0.01, "high": 0.5, "step": 0.01},
        "gamma": {
            "type": "float",
            "low": 1e-4,
            "high": 1,
            "log": True,
            "when": {"criterion": "gini"},
        },
    }
)


def test_projection_clips_snaps_drops_and_skips_as_the_space_demands():
    past = {
        "n_estimators": "900",
        "max_depth": "7.6",
        "criterion": "log_loss",
        "lr": "0.123",
        "subsample": "0.8",
        "gamma": "0.5",
    }
    assert project(past, SPACE) == {"n_estimators": 500, "max_depth": 8, "lr": pytest.approx(0.12)}
    # gamma is kept only when its condition holds on the projected values
    assert project({"criterion": "gini", "gamma": "5"}, SPACE) == {
        "criterion": "gini",
        "gamma": 1.0,
    }
    assert project({"criterion": "entropy", "gamma": "0.5"}, SPACE) == {"criterion": "entropy"}
    assert project({"n_estimators": "nan", "unknown": 1}, SPACE) == {}


def test_categorical_values_match_by_their_string_form():
    space = space_of(
        {
            "depth": {"type": "categorical", "choices": [1, 2, None]},
            "flag": {"type": "categorical", "choices": [True, False]},
        }
    )
    assert project({"depth": "2", "flag": "False"}, space) == {"depth": 2, "flag": False}
    assert project({"depth": "None"}, space) == {"depth": None}


def test_distance_ranks_the_similar_dataset_first_and_ignores_constant_and_partial_features():
    current = {"n_rows": 500, "landmark_1nn": 0.9, "class_entropy": 1.0, "only_here": 3.0}
    near = {"n_rows": 600, "landmark_1nn": 0.88, "class_entropy": 1.0}
    far = {"n_rows": 50_000, "landmark_1nn": 0.55, "class_entropy": 1.0}
    d_near, d_far = meta_distances(current, [near, far])
    assert d_near < d_far
    assert meta_distances(current, []) == []
    assert meta_distances({"a": 1.0}, [{"a": 1.0}]) == [0.0]


def test_a_feature_one_past_study_lacks_still_separates_the_others():
    """An all-categorical dataset has no feature skewness: it must not drop skewness from every comparison."""
    current = {"n_rows": 500, "skew_abs_mean": 0.2}
    same_skew = {"n_rows": 550, "skew_abs_mean": 0.2}
    other_skew = {"n_rows": 500, "skew_abs_mean": 6.0}
    all_categorical = {"n_rows": 700}
    d_same, d_other, d_categorical = meta_distances(
        current, [same_skew, other_skew, all_categorical]
    )
    assert d_same < d_other  # compared on size alone, other_skew (same size) would be nearest
    assert (
        math.isfinite(d_categorical) and d_categorical > 0
    )  # compared on size, the feature it has
    assert (
        meta_distances({"n_rows": 500}, [{"landmark_1nn": 0.5}, {"n_rows": 10}])[0] == 2**0.5
    )  # nothing shared


def past_study(
    name,
    *,
    pipeline="p",
    family="random_forest",
    task="classification",
    meta=None,
    end=0,
    configs=None,
):
    configs = configs or [
        PastConfig(
            {"n_estimators": str(100 + i), "max_depth": "5"}, 0.9 - i / 100, f"{name}-run{i}"
        )
        for i in range(6)
    ]
    return PastStudy(
        study=name,
        pipeline=pipeline,
        family=family,
        task=task,
        metric="roc_auc",
        direction="maximize",
        meta=meta or {"n_rows": 100.0, "landmark_1nn": 0.9},
        run_id=f"{name}-parent",
        end_time=end,
        configs=configs,
    )


def current(**changes):
    fields = dict(
        study="now",
        pipeline="p",
        family="random_forest",
        task="classification",
        metric="roc_auc",
        direction="maximize",
        meta={"n_rows": 100.0, "landmark_1nn": 0.9},
    )
    return CurrentStudy(**{**fields, **changes})


def spread_configs(name, n=6):
    """Configurations far apart in the space (depth 2, 8, 14, ...), best first."""
    return [
        PastConfig(
            {"n_estimators": "100", "max_depth": str(2 + 6 * i)}, 0.9 - i / 100, f"{name}-run{i}"
        )
        for i in range(n)
    ]


def test_same_pipeline_takes_the_latest_studys_top_configs_with_their_source_runs():
    history = [
        past_study("old", end=1, configs=spread_configs("old")),
        past_study("latest", end=2, configs=spread_configs("latest")),
        past_study("other", pipeline="q", end=3),
    ]
    plan = plan_warm_start("same_pipeline", current(), SPACE, history, pipeline_top_k=4)
    assert plan.used == "same_pipeline"
    assert [c.source_run_id for c in plan.configs] == [f"latest-run{i}" for i in range(4)]
    assert (
        plan.configs[0].params == {"n_estimators": 100, "max_depth": 2}
        and plan.configs[0].past_score == 0.9
    )


def test_same_pipeline_skips_near_duplicates_of_a_config_already_taken():
    configs = [
        PastConfig({"n_estimators": str(100 + i), "max_depth": "5"}, 0.9 - i / 100, f"dup{i}")
        for i in range(4)
    ]
    configs.append(PastConfig({"n_estimators": "400", "max_depth": "30"}, 0.8, "other-region"))
    plan = plan_warm_start(
        "same_pipeline", current(), SPACE, [past_study("latest", configs=configs)], pipeline_top_k=3
    )
    assert [c.source_run_id for c in plan.configs] == ["dup0", "other-region"]


def test_similar_datasets_takes_the_k_nearest_of_the_same_family_and_task():
    history = [
        past_study("near", pipeline="a", meta={"n_rows": 110.0, "landmark_1nn": 0.89}),
        past_study("mid", pipeline="b", meta={"n_rows": 400.0, "landmark_1nn": 0.8}),
        past_study("far", pipeline="c", meta={"n_rows": 90_000.0, "landmark_1nn": 0.5}),
        past_study("svm", pipeline="d", family="svm"),
        past_study("regr", pipeline="e", task="regression"),
    ]
    plan = plan_warm_start("similar_datasets", current(), SPACE, history, k_nearest=2, top_k=2)
    assert [n["study"] for n in plan.neighbours] == ["near", "mid"]
    assert {c.source_study for c in plan.configs} <= {"near", "mid"} and plan.configs
    assert {c.kind for c in plan.configs} == {"similar_datasets"}


def test_the_config_good_on_every_similar_dataset_goes_first_then_the_one_covering_the_rest():
    def trials(name, scores):  # scores for max_depth 30, 10, 2
        return [
            PastConfig({"n_estimators": "100", "max_depth": d}, s, f"{name}-{d}")
            for d, s in sorted(zip(["30", "10", "2"], scores), key=lambda p: -p[1])
        ]

    near = past_study(
        "near",
        pipeline="a",
        meta={"n_rows": 110.0, "landmark_1nn": 0.9},
        configs=trials("near", [0.95, 0.94, 0.5]),
    )
    mid = past_study(
        "mid",
        pipeline="b",
        meta={"n_rows": 90.0, "landmark_1nn": 0.9},
        configs=trials("mid", [0.5, 0.9, 0.6]),
    )
    plan = plan_warm_start("similar_datasets", current(), SPACE, [near, mid], k_nearest=2, top_k=2)
    # two datasets as close as each other: depth 30 wins on one and is the worst on the other; depth 10 is
    # second on the first and the best on the second, so it goes first and 30 covers what it leaves
    assert [c.params["max_depth"] for c in plan.configs] == [10, 30]
    assert plan.configs[0].source_run_id == "near-10" and plan.configs[1].source_run_id == "near-30"
    assert all(
        c.params["max_depth"] != 2 for c in plan.configs
    )  # a candidate (mid's second) that adds nothing


def test_duplicates_after_projection_are_enqueued_once_and_the_cap_holds():
    same = [
        PastConfig({"n_estimators": "600"}, 0.9, "a"),
        PastConfig({"n_estimators": "700"}, 0.8, "b"),
    ]  # both clip to 500
    plan = plan_warm_start(
        "similar_datasets", current(), SPACE, [past_study("x", pipeline="a", configs=same)], top_k=3
    )
    assert [c.params for c in plan.configs] == [{"n_estimators": 500}] and len(plan.prior) == 1
    # six studies, each with its own winner that is poor on the others: the portfolio wants all six
    history = [
        past_study(
            f"s{i}",
            pipeline=f"s{i}",
            configs=sorted(
                (
                    PastConfig({"max_depth": str(2 + 5 * j)}, 0.9 if j == i else 0.5, f"s{i}-{j}")
                    for j in range(6)
                ),
                key=lambda c: -c.score,
            ),
        )
        for i in range(6)
    ]
    plan = plan_warm_start(
        "similar_datasets", current(), SPACE, history, k_nearest=6, top_k=3, max_configs=4
    )
    keys = [tuple(sorted(c.params.items())) for c in plan.configs]
    assert len(keys) == len(set(keys)) == 4


def test_auto_prefers_the_pipeline_and_tops_up_from_similar_datasets():
    history = [
        past_study("previous", pipeline="p", end=5, configs=spread_configs("previous")),
        past_study("neighbour", pipeline="z", configs=[PastConfig({"max_depth": "30"}, 0.7, "n0")]),
    ]
    plan = plan_warm_start("auto", current(), SPACE, history, pipeline_top_k=2, max_configs=10)
    assert plan.used == "same_pipeline+similar_datasets"
    assert [c.kind for c in plan.configs] == ["same_pipeline", "same_pipeline", "similar_datasets"]


def test_no_usable_history_is_a_cold_start_that_says_so():
    plan = plan_warm_start(
        "auto", current(), SPACE, [past_study("now"), past_study("svm", family="svm")]
    )
    assert plan.used == "cold" and not plan.configs
    assert (
        plan.message
        == "no past study of a classification random_forest model in the meta-store; cold start"
    )
    nothing_fits = [past_study("odd", configs=[PastConfig({"other": "1"}, 0.9, "r")])]
    assert (
        "none of their configurations fits this search space"
        in plan_warm_start("auto", current(), SPACE, nothing_fits).message
    )
    assert plan_warm_start("none", current(), SPACE, [past_study("x")]).used == "none"
    other_pipelines = plan_warm_start(
        "same_pipeline",
        current(),
        SPACE,
        [past_study("a", pipeline="z"), past_study("b", pipeline="y")],
    )
    assert other_pipelines.used == "cold"
    assert other_pipelines.message == (
        "no past study of this pipeline (p) in the meta-store (2 of other pipelines: "
        "warm_start: similar_datasets or auto would use them); cold start"
    )


def test_cmaes_gets_complete_numeric_configs_in_the_studys_direction_as_source_trials():
    space = space_of(
        {"x": {"type": "float", "low": -5, "high": 5}, "y": {"type": "int", "low": 0, "high": 10}}
    )
    configs = [
        PastConfig({"x": str(1.5 + i / 10), "y": "3"}, 0.8 - i / 100, f"r{i}") for i in range(10)
    ]
    configs.insert(
        1, PastConfig({"x": "2.0"}, 0.79, "partial")
    )  # incomplete: left to the enqueued trials
    history = [
        past_study("s", pipeline="s", configs=configs[:6]),
        past_study("t", pipeline="t", configs=configs[6:]),
    ]
    plan = plan_warm_start("similar_datasets", current(), space, history, top_k=1)
    assert len(plan.configs) == 2  # one enqueued per study, but every config of both informs CMA-ES
    trials = cmaes_source_trials(plan, space, "maximize")
    assert len(trials) == 10 and (trials[0].params, trials[0].value) == ({"x": 1.5, "y": 3}, 0.8)
    assert cmaes_source_trials(plan, space, "minimize") == []
    too_few = plan_warm_start("similar_datasets", current(), space, history[:1])
    assert (
        cmaes_source_trials(too_few, space, "maximize") == []
    )  # 5 source trials: CMA-ES cannot use them
    assert (
        cmaes_source_trials(plan, SPACE, "maximize") == []
    )  # categorical/conditional spaces: not for CMA-ES
    sampler = build_sampler(
        "cmaes", space, 0, n_objectives=1, parallelism=1, source_trials=trials
    )  # as a study builds it
    assert isinstance(sampler, optuna.samplers.CmaEsSampler)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(
        lambda t: -((t.suggest_float("x", -5, 5) - 1.5) ** 2) - t.suggest_int("y", 0, 10),
        n_trials=5,
    )
    assert len(study.trials) == 5
