"""The search space narrowed to the box of past optima (warm_start.narrow_space)."""

import optuna

from kubetune.components.pipeline.warm_start import narrowed_space_of, record_narrowed_space
from kubetune.components.spec import ParamSpec
from kubetune.components.warmstart.box import narrowed_ranges, past_optima_box
from kubetune.components.warmstart.planner import PastConfig, cmaes_source_trials, plan_warm_start
from tests.unit.test_warmstart import SPACE, current, past_study


def best_of(name, **params):
    configs = [
        PastConfig({k: str(v) for k, v in params.items()}, 0.9, f"{name}-best"),
        PastConfig({"max_depth": "30"}, 0.5, f"{name}-worse"),
    ]
    return past_study(name, pipeline=f"other-{name}", configs=configs)


def test_numeric_ranges_shrink_to_the_past_optima_and_categories_stay_whole():
    optima = [
        {"n_estimators": 80, "max_depth": 4, "criterion": "gini", "lr": 0.05},
        {"n_estimators": 300, "max_depth": 9, "criterion": "gini", "lr": 0.2},
        {"n_estimators": 120, "max_depth": 6, "criterion": "gini", "lr": 0.11},
    ]
    box = past_optima_box(SPACE, optima, warm=[{"max_depth": 12}])
    # 80..300 on a log scale, widened by a tenth of ln(300/80) each side and rounded outwards: 70.1..342.3
    assert (box["n_estimators"].low, box["n_estimators"].high) == (70, 343)
    assert box["n_estimators"].log and box["n_estimators"].type == "int"
    assert (box["max_depth"].low, box["max_depth"].high) == (
        3,
        13,
    )  # the warm trial widens the box: 4..12, +/-0.8
    assert (box["lr"].low, box["lr"].high, box["lr"].step) == (
        0.03,
        0.22,
        0.01,
    )  # 0.05..0.2, +/-0.015, on the step grid
    assert box["criterion"] == SPACE["criterion"]
    assert box["gamma"] == SPACE["gamma"]  # no past optimum speaks about it
    assert set(narrowed_ranges(SPACE, box)) == {"n_estimators", "max_depth", "lr"}
    optuna.distributions.FloatDistribution(
        box["lr"].low, box["lr"].high, step=box["lr"].step
    )  # a valid distribution


def test_too_few_optima_or_one_agreed_value_leave_a_parameter_whole():
    two = [{"max_depth": 4}, {"max_depth": 9}]
    assert past_optima_box(SPACE, two)["max_depth"] == SPACE["max_depth"]
    agreed = [{"max_depth": 5}] * 4
    assert past_optima_box(SPACE, agreed)["max_depth"] == SPACE["max_depth"]


def test_the_planner_narrows_only_when_asked_and_says_how():
    history = [
        best_of("a", max_depth=4, n_estimators=60),
        best_of("b", max_depth=10, n_estimators=400),
        best_of("c", max_depth=7, n_estimators=90),
    ]
    plain = plan_warm_start("similar_datasets", current(), SPACE, history)
    assert plain.narrowed is None and plain.as_json()["narrowed_space"] == {}
    plan = plan_warm_start("similar_datasets", current(), SPACE, history, narrow_space=True)
    # each study's *best* counts (not its worse max_depth 30), plus the chosen warm configs
    assert (plan.narrowed["max_depth"].low, plan.narrowed["max_depth"].high) == (
        3,
        11,
    )  # 4..10 and the margin
    assert plan.as_json()["narrowed_space"]["n_estimators"] == {
        "low": 50,
        "high": 484,
        "full_low": 50,
        "full_high": 500,
    }
    assert (
        "search space narrowed to the box of 3 past optima: n_estimators 50-484, max_depth 3-11"
        in plan.message
    )
    for config in plan.configs:
        assert all(
            plan.narrowed[n].low <= v <= plan.narrowed[n].high
            for n, v in config.params.items()
            if n in ("max_depth", "n_estimators")
        )
    few = plan_warm_start("similar_datasets", current(), SPACE, history[:2], narrow_space=True)
    assert few.narrowed is None and "search space kept whole (2 past optima" in few.message


def test_cma_es_source_trials_outside_the_box_are_left_out():
    numeric = {k: SPACE[k] for k in ("n_estimators", "max_depth")}
    configs = [
        PastConfig({"n_estimators": str(60 + i), "max_depth": str(3 + i % 8)}, 0.9, f"r{i}")
        for i in range(16)
    ]
    history = [
        past_study("a", pipeline="x", configs=configs),
        best_of("b", n_estimators=70, max_depth=10),
        best_of("c", n_estimators=65, max_depth=3),
    ]
    plan = plan_warm_start("similar_datasets", current(), numeric, history, narrow_space=True)
    assert (plan.narrowed["n_estimators"].low, plan.narrowed["n_estimators"].high) == (
        59,
        72,
    )  # 60..70 and the margin
    whole = cmaes_source_trials(plan, numeric, "maximize")
    inside = cmaes_source_trials(plan, plan.narrowed, "maximize")
    assert len(whole) == 18  # a's 16, and the best of b and of c
    assert sorted(t.params["n_estimators"] for t in inside) == sorted(
        [*range(60, 73), 70, 65]
    )  # a's 73..75 are outside


def test_a_study_keeps_its_box_for_a_resume():
    history = [best_of("a", max_depth=4), best_of("b", max_depth=10), best_of("c", max_depth=7)]
    plan = plan_warm_start("similar_datasets", current(), SPACE, history, narrow_space=True)
    study = optuna.create_study()
    assert narrowed_space_of(study) is None
    record_narrowed_space(study, plan)
    assert narrowed_space_of(study) == plan.narrowed
    assert all(isinstance(p, ParamSpec) for p in narrowed_space_of(study).values())


def test_the_margin_reaches_an_optimum_just_past_every_past_one_and_stays_inside_the_spec():
    """Logistic regression on crabs: its optimum is C near the space's upper edge, past every other
    dataset's (docs/benchmarks.md); the tight box 0.02..77.6 would never let the study reach it."""
    space = {"C": ParamSpec(type="float", low=1e-4, high=100, log=True)}
    box = past_optima_box(space, [{"C": 0.02}, {"C": 0.3}, {"C": 77.6}])
    assert (
        box["C"].high == 100
    )  # 77.6 widened by a tenth of ln(77.6/0.02) is 177, clipped to the spec's 100
    assert abs(box["C"].low - 0.02 * (0.02 / 77.6) ** 0.1) < 1e-12 and box["C"].log
    on_steps = past_optima_box(
        {"n": ParamSpec(type="int", low=0, high=100, step=5)}, [{"n": 20}, {"n": 40}, {"n": 60}]
    )["n"]
    assert (on_steps.low, on_steps.high) == (
        15,
        65,
    )  # 20..60 +/-4, rounded outwards to the step of 5
