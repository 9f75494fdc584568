import numpy as np
import pytest

from kubetune.components.models import get_family
from kubetune.components.search import checkpoint_uri, round_attrs
from kubetune.components.search.pbt import (
    RoundResult,
    explore,
    first_generation,
    next_generation,
    rank,
    replay_schedule,
)
from kubetune.components.spec import ParamSpec

SPACE = {
    k: ParamSpec.model_validate(v)
    for k, v in get_family("torch_mlp").default_space("classification").items()
    if k != "epochs"
}
STRUCTURE = get_family("torch_mlp").structure


def inside(params):
    for name, value in params.items():
        param = SPACE[name]
        if param.type == "categorical":
            assert value in param.choices
        else:
            assert param.low <= value <= param.high


def results(values):
    members = first_generation(SPACE, len(values), np.random.default_rng(0))
    return [RoundResult(m.member, 100 + m.member, m.params, v) for m, v in zip(members, values)]


def test_first_generation_is_seeded_and_inside_the_space():
    a = first_generation(SPACE, 6, np.random.default_rng(1))
    b = first_generation(SPACE, 6, np.random.default_rng(1))
    assert [m.params for m in a] == [m.params for m in b]
    assert len({str(m.params) for m in a}) == 6
    for member in a:
        inside(member.params)
        assert member.parent_member is None and member.generation == 0


def test_warm_start_configurations_seed_the_first_members_and_the_rest_stay_random():
    past = {
        "lr": 0.0123,
        "dropout": 0.9,
        "epochs": 40,
        "unknown": 1,
    }  # dropout above the space, epochs is PBT's own
    members = first_generation(SPACE, 4, np.random.default_rng(1), [past])
    first = members[0].params
    assert (
        first["lr"] == 0.0123 and first["dropout"] == SPACE["dropout"].high
    )  # kept, clipped to the bound
    assert "epochs" not in first and "unknown" not in first
    assert set(first) == set(SPACE)  # what the past configuration lacks is drawn
    for member in members:
        inside(member.params)
    assert len({str(m.params) for m in members}) == 4
    again = first_generation(SPACE, 4, np.random.default_rng(1), [past])
    assert [m.params for m in again] == [m.params for m in members]  # seeded


def test_more_warm_start_configurations_than_members_is_refused():
    with pytest.raises(ValueError, match="3 warm-start configurations for a population of 2"):
        first_generation(SPACE, 2, np.random.default_rng(0), [{}, {}, {}])


def test_bottom_quantile_copies_the_top_and_perturbs_all_but_the_structure():
    previous = results(
        [0.50, 0.90, 0.70, 0.60, 0.80, 0.55, 0.85, 0.65]
    )  # cut = 2: top {1, 6}, bottom {0, 5}
    rounds = {
        r.member: r
        for r in next_generation(
            previous, SPACE, STRUCTURE, "maximize", 1, np.random.default_rng(0)
        )
    }
    by_member = {r.member: r for r in previous}
    for loser in (0, 5):
        copied = rounds[loser]
        assert copied.exploited and copied.parent_member in (1, 6)
        assert copied.parent_trial == by_member[copied.parent_member].trial_number
        parent_params = by_member[copied.parent_member].params
        assert {k: copied.params[k] for k in STRUCTURE} == {k: parent_params[k] for k in STRUCTURE}
        assert copied.params != parent_params
        inside(copied.params)
    for keeper in (1, 2, 3, 4, 6, 7):
        assert not rounds[keeper].exploited and rounds[keeper].parent_member == keeper
        assert rounds[keeper].params == by_member[keeper].params


def test_direction_decides_who_is_worse_and_a_failed_round_ranks_last():
    previous = results([0.2, None, 0.1, 0.3])
    assert [r.member for r in rank(previous, "minimize")] == [2, 0, 3, 1]
    assert [r.member for r in rank(previous, "maximize")] == [3, 0, 2, 1]
    rounds = {
        r.member: r
        for r in next_generation(
            previous, SPACE, STRUCTURE, "minimize", 1, np.random.default_rng(0)
        )
    }
    assert rounds[1].exploited and rounds[1].parent_member == 2


def test_when_every_round_failed_members_start_again_from_scratch():
    rounds = next_generation(
        results([None, None]), SPACE, STRUCTURE, "maximize", 1, np.random.default_rng(0)
    )
    assert all(r.parent_member is None and not r.exploited for r in rounds)


def test_explore_stays_inside_bounds_even_when_perturbing_at_the_edge():
    params = {
        "depth": 2,
        "width": 256,
        "dropout": 0.5,
        "lr": 3e-2,
        "weight_decay": 1e-2,
        "batch_size": 256,
    }
    rng = np.random.default_rng(0)
    for _ in range(50):
        explored = explore(params, SPACE, STRUCTURE, rng, perturb=(1.5,), resample_probability=0.0)
        inside(explored)
        assert explored["lr"] == 3e-2 and explored["batch_size"] in (128, 256)


def test_round_attrs_name_the_parent_checkpoint_and_the_epoch_it_was_copied_at():
    previous = results([0.1, 0.9, 0.5, 0.6])
    rounds = next_generation(previous, SPACE, STRUCTURE, "maximize", 3, np.random.default_rng(0))
    copied = next(r for r in rounds if r.exploited)
    attrs = round_attrs(copied, "s3://bucket/study/pbt", interval=4)
    assert attrs["kubetune.pbt.checkpoint_in"] == checkpoint_uri(
        "s3://bucket/study/pbt", 2, copied.parent_member
    )
    assert attrs["kubetune.pbt.checkpoint_out"] == "s3://bucket/study/pbt/gen-0003/member-000.pt"
    assert (
        attrs["kubetune.pbt.copied_at_epoch"] == 12
        and attrs["kubetune.pbt.copied_from_member"] == 1
    )


def test_replay_schedule_follows_the_checkpoints_back_to_generation_0():
    """Member 1 copied member 0 in generation 1, then kept its own weights: its final model was trained
    by member 0's first round, then member 1's rounds 1 and 2, each with that round's settings and seed."""
    lineage = [
        {"member": 0, "generation": 0, "params": {"lr": 0.1}, "parent_member": None},
        {"member": 1, "generation": 0, "params": {"lr": 0.2}, "parent_member": None},
        {"member": 0, "generation": 1, "params": {"lr": 0.11}, "parent_member": 0},
        {
            "member": 1,
            "generation": 1,
            "params": {"lr": 0.13},
            "parent_member": 0,
            "exploited": True,
        },
        {"member": 0, "generation": 2, "params": {"lr": 0.12}, "parent_member": 0},
        {"member": 1, "generation": 2, "params": {"lr": 0.14}, "parent_member": 1},
    ]
    schedule = replay_schedule(lineage, member=1, generations=3, interval=2, seed=7)
    assert [(s["generation"], s["member"], s["params"]["lr"]) for s in schedule] == [
        (0, 0, 0.1),
        (1, 1, 0.13),
        (2, 1, 0.14),
    ]
    assert [s["seed"] for s in schedule] == [7, 1008, 2008] and all(
        s["epochs"] == 2 for s in schedule
    )
    assert [
        s["member"]
        for s in replay_schedule(lineage, member=0, generations=3, interval=2, seed=None)
    ] == [0, 0, 0]


def test_a_resume_keeps_the_population_and_the_interval_the_study_began_with():
    import optuna

    from kubetune.components.core import (
        PBT_GENERATION,
        PBT_INTERVAL_ATTR,
        PBT_MEMBER,
        StudyConflictError,
    )
    from kubetune.components.search import check_resume

    study = optuna.create_study()
    study.set_user_attr(PBT_INTERVAL_ATTR, 2)
    for member in range(3):
        study.enqueue_trial(
            {"lr": 0.01 * (member + 1)}, user_attrs={PBT_MEMBER: member, PBT_GENERATION: 0}
        )
    recorded = check_resume("s", study, population=3, interval=2)
    assert [r.member for r in recorded[0]] == [0, 1, 2]
    with pytest.raises(
        StudyConflictError,
        match=r"search.pbt.interval: study 's' was planned with 2 epoch\(s\) per round, the spec asks for 1",
    ):
        check_resume("s", study, population=3, interval=1)
    with pytest.raises(
        StudyConflictError,
        match="search.pbt.population: study 's' was planned with a population of 3",
    ):
        check_resume("s", study, population=4, interval=2)
    legacy = optuna.create_study()  # begun before the interval was stored: population checked only
    legacy.enqueue_trial({"lr": 0.01}, user_attrs={PBT_MEMBER: 0, PBT_GENERATION: 0})
    assert check_resume("s", legacy, population=1, interval=5)
