from kubetune.components.search.pareto import describe, select
from kubetune.components.spec import SelectSpec

FRONT = [
    {"trial": 3, "accuracy": 0.97, "inference_ms": 9.0},
    {"trial": 5, "accuracy": 0.95, "inference_ms": 4.0},
    {"trial": 8, "accuracy": 0.90, "inference_ms": 1.0},
]
METRICS, DIRECTIONS = ["accuracy", "inference_ms"], ["maximize", "minimize"]


def test_best_accuracy_under_a_latency_bound():
    chosen = select(
        FRONT,
        METRICS,
        DIRECTIONS,
        SelectSpec.model_validate({"best": "accuracy", "where": {"inference_ms": {"max": 5}}}),
    )
    assert chosen.row["trial"] == 5
    assert (
        chosen.reason == "best accuracy among 2 of 3 Pareto-optimal trials with inference_ms <= 5"
    )


def test_default_rule_is_the_best_first_metric_and_a_minimized_metric_can_be_the_target():
    assert select(FRONT, METRICS, DIRECTIONS, SelectSpec()).row["trial"] == 3
    fastest = select(
        FRONT,
        METRICS,
        DIRECTIONS,
        SelectSpec.model_validate({"best": "inference_ms", "where": {"accuracy": {"min": 0.94}}}),
    )
    assert fastest.row["trial"] == 5


def test_no_trial_within_bounds_gives_a_reason_that_names_the_bound_and_the_closest_value():
    chosen = select(
        FRONT,
        METRICS,
        DIRECTIONS,
        SelectSpec.model_validate({"where": {"inference_ms": {"max": 0.5}}}),
    )
    assert chosen.row is None
    assert (
        chosen.reason
        == "no Pareto-optimal trial meets inference_ms <= 0.5 (lowest inference_ms on the front: 1)"
    )
    assert (
        describe(SelectSpec.model_validate({"where": {"accuracy": {"min": 0.9, "max": 1}}}))
        == "accuracy >= 0.9 and accuracy <= 1"
    )
