import pytest

from kubetune.components.spec import ParamSpec
from kubetune.components.warmstart.portfolio import (
    MIN_GAIN,
    ScoredTrials,
    config_distance,
    estimate,
    portfolio,
    quantiles,
    spread_out,
)

SPACE = {
    name: ParamSpec.model_validate(raw)
    for name, raw in {
        "C": {"type": "float", "low": 1e-3, "high": 1e3, "log": True},
        "kernel": {"type": "categorical", "choices": ["rbf", "linear"]},
        "gamma": {
            "type": "float",
            "low": 1e-4,
            "high": 1.0,
            "log": True,
            "when": {"kernel": "rbf"},
        },
        "depth": {"type": "int", "low": 0, "high": 10},
    }.items()
}


def test_distance_reads_log_ranges_categories_and_the_branch_a_condition_took():
    assert config_distance({"C": 1.0}, {"C": 1.0}, SPACE) == 0.0
    # 1e-3 .. 1e3 is six decades: one decade apart is a sixth of the range
    assert config_distance({"C": 1.0}, {"C": 10.0}, SPACE) == pytest.approx(1 / 6)
    assert config_distance({"kernel": "rbf"}, {"kernel": "linear"}, SPACE) == 1.0
    # gamma exists only on the rbf branch: present in one configuration only, it counts as fully different
    rbf, linear = {"kernel": "rbf", "gamma": 0.01, "depth": 5}, {"kernel": "linear", "depth": 5}
    assert config_distance(rbf, linear, SPACE) == pytest.approx((1 + 1 + 0) / 3)
    assert config_distance({"depth": 0}, {"depth": 10}, SPACE) == 1.0


def test_quantiles_put_the_best_at_one_in_either_direction_and_share_ties():
    assert quantiles([0.5, 0.9, 0.7], "maximize") == [0.0, 1.0, 0.5]
    assert quantiles([0.5, 0.9, 0.7], "minimize") == [1.0, 0.0, 0.5]
    assert quantiles([0.2, 0.2, 0.8], "maximize") == [0.25, 0.25, 1.0]
    assert quantiles([3.0], "maximize") == [1.0]


def test_estimate_is_the_trials_own_result_where_it_was_tried_and_a_neighbour_mean_elsewhere():
    study = ScoredTrials([{"depth": 0}, {"depth": 5}, {"depth": 10}], [0.0, 1.0, 0.5], weight=1.0)
    assert estimate({"depth": 5}, study, SPACE) == 1.0
    between = estimate({"depth": 6}, study, SPACE)  # next to the best, further from the others
    assert 0.5 < between < 1.0
    assert estimate({"depth": 9}, study, SPACE) < between


def test_portfolio_starts_with_the_robust_config_and_stops_when_nothing_adds_enough():
    a, b, c = {"depth": 0}, {"depth": 5}, {"depth": 10}
    one = ScoredTrials([a, b, c], [1.0, 0.8, 0.0], weight=1.0)  # a wins here, b close
    two = ScoredTrials([a, b, c], [0.0, 1.0, 0.5], weight=1.0)  # a is the worst here, b wins
    assert portfolio([a, b, c], [one, two], SPACE, limit=5) == [b, a]  # c would add nothing
    assert portfolio([a, b, c], [one, two], SPACE, limit=1) == [b]
    # weights decide: a dataset far away barely counts, so its favourite is not worth a trial
    far_two = ScoredTrials(two.configs, two.quantiles, weight=0.01)
    assert portfolio([a, b, c], [one, far_two], SPACE, limit=5) == [a]
    assert portfolio([], [one], SPACE, limit=3) == [] and portfolio([a], [], SPACE, limit=3) == []
    assert MIN_GAIN > 0


def test_spread_out_keeps_order_and_skips_near_duplicates():
    best_first = [
        {"C": 10.0, "kernel": "linear"},
        {"C": 10.5, "kernel": "linear"},
        {"C": 0.01, "kernel": "linear"},
        {"C": 10.0, "kernel": "rbf", "gamma": 0.1},
    ]
    assert spread_out(best_first, SPACE, limit=5) == [best_first[0], best_first[2], best_first[3]]
    assert spread_out(best_first, SPACE, limit=2) == [best_first[0], best_first[2]]
