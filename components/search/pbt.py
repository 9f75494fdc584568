"""Population-based training, the decisions: who starts from which checkpoint, with which settings.

Pure functions (no I/O, a seeded ``numpy`` generator passed in), so every rule is unit-tested. The
loop that runs rounds on an executor is ``kubetune.components.pipeline.population_search``; a member's round of training is
``kubetune.components.execution.pbt_member``. Synchronous PBT (Jaderberg et al., 2017): after each round of ``interval``
epochs, members are ranked; the bottom ``quantile`` copy the weights (and optimizer state) of a random
member of the top ``quantile`` -- *exploit* -- and perturb its settings: each number multiplied by one
of ``perturb`` or, with ``resample_probability``, drawn anew from the space -- *explore*. Settings that
change the weights' shapes (the family's ``structure``) are copied, never perturbed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kubetune.components.models import get_family
from kubetune.components.search.space import Space, is_active, project


@dataclass(frozen=True)
class MemberRound:
    """One member's round: what it trains with and where it starts from (None: fresh weights)."""

    member: int
    generation: int
    params: dict[str, Any]
    parent_member: int | None = None  # whose checkpoint it starts from (itself when not exploited)
    parent_trial: int | None = None  # the trial that wrote that checkpoint
    exploited: bool = False  # copied a better member this round

    def lineage(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RoundResult:
    member: int
    trial_number: int
    params: dict[str, Any]
    value: float | None  # None: the round failed


def member_space(spec: Any, space: Space) -> Space:
    """The space members explore: the training length is PBT's own (``interval`` epochs per round), so the
    family's fidelity parameter is left out. The study stores this space's fingerprint."""
    fidelity = getattr(get_family(spec.model.family), "fidelity", None)
    return {
        name: param for name, param in space.items() if fidelity is None or name != fidelity.param
    }


def _draw(param: Any, rng: np.random.Generator) -> Any:
    if param.type == "categorical":
        return param.choices[int(rng.integers(len(param.choices)))]
    if param.log:
        value = math.exp(rng.uniform(math.log(param.low), math.log(param.high)))
    else:
        value = rng.uniform(param.low, param.high)
    return project({"x": value}, {"x": param.model_copy(update={"when": None})})["x"]


def first_generation(
    space: Space, population: int, rng: np.random.Generator, starts: Sequence[dict[str, Any]] = ()
) -> list[MemberRound]:
    """The population's first settings: member i < len(starts) begins from ``starts[i]`` (warm-start
    configurations, projected into the members' space, anything they lack drawn at random), the rest
    from random draws -- so past studies' best settings enter the population without taking it over."""
    if len(starts) > population:
        raise ValueError(
            f"{len(starts)} warm-start configurations for a population of {population}"
        )
    return [
        MemberRound(member, 0, complete(starts[member] if member < len(starts) else {}, space, rng))
        for member in range(population)
    ]


def complete(params: dict[str, Any], space: Space, rng: np.random.Generator) -> dict[str, Any]:
    """``params`` inside ``space``, with every active parameter they do not set drawn at random (conditions
    respected); from ``{}`` a random configuration."""
    inside = project(params, space)
    chosen: dict[str, Any] = {}
    for name, param in space.items():
        if is_active(param, chosen):
            chosen[name] = inside[name] if name in inside else _draw(param, rng)
    return chosen


def rank(results: list[RoundResult], direction: str) -> list[RoundResult]:
    """Best first; a failed round ranks last (its member will copy a working one)."""
    sign = -1.0 if direction == "maximize" else 1.0
    return sorted(
        results,
        key=lambda r: (r.value is None, sign * (r.value if r.value is not None else 0.0), r.member),
    )


def next_generation(
    results: list[RoundResult],
    space: Space,
    structure: tuple[str, ...],
    direction: str,
    generation: int,
    rng: np.random.Generator,
    quantile: float = 0.25,
    perturb: tuple[float, ...] = (0.8, 1.2),
    resample_probability: float = 0.25,
) -> list[MemberRound]:
    """The members' next round: the bottom quantile exploit the top quantile and explore; the rest go on."""
    ranked = rank(results, direction)
    cut = max(1, int(len(ranked) * quantile))
    top = [r for r in ranked[:cut] if r.value is not None]
    bottom = {r.member for r in ranked[-cut:]} if top else set()
    rounds: list[MemberRound] = []
    for result in sorted(results, key=lambda r: r.member):
        if result.member in bottom and result.member not in {t.member for t in top}:
            parent = top[int(rng.integers(len(top)))]
            params = explore(parent.params, space, structure, rng, perturb, resample_probability)
            rounds.append(
                MemberRound(
                    result.member,
                    generation,
                    params,
                    parent.member,
                    parent.trial_number,
                    exploited=True,
                )
            )
        # failed but not replaceable (nobody succeeded): start again from scratch
        elif result.value is None:
            rounds.append(MemberRound(result.member, generation, result.params))
        else:
            rounds.append(
                MemberRound(
                    result.member, generation, result.params, result.member, result.trial_number
                )
            )
    return rounds


def explore(
    params: dict[str, Any],
    space: Space,
    structure: tuple[str, ...],
    rng: np.random.Generator,
    perturb: tuple[float, ...] = (0.8, 1.2),
    resample_probability: float = 0.25,
) -> dict[str, Any]:
    """Perturb or resample every setting except the structure; results stay inside the space."""
    explored = dict(params)
    for name, param in space.items():
        if name in structure or name not in params:
            continue
        if rng.random() < resample_probability:
            explored[name] = _draw(param, rng)
        elif param.type == "categorical":
            explored[name] = _neighbour(param.options, params[name], rng)
        else:
            explored[name] = float(params[name]) * float(perturb[int(rng.integers(len(perturb)))])
    return project(explored, space)


def _neighbour(choices: list[Any], value: Any, rng: np.random.Generator) -> Any:
    """Ordered numeric choices (batch sizes) step to an adjacent one; other categories stay."""
    if value not in choices or not all(
        isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices
    ):
        return value
    index = choices.index(value) + int(rng.choice([-1, 1]))
    return choices[min(max(index, 0), len(choices) - 1)]


def replay_schedule(
    lineage: Sequence[dict[str, Any]],
    member: int,
    generations: int,
    interval: int,
    seed: int | None,
) -> list[dict[str, Any]]:
    """The rounds that trained ``member``'s final weights, first to last, as the refit replays them.

    PBT's answer is a schedule, not one configuration: the settings changed between rounds and a
    member may have copied another's weights. Following whose checkpoint each round started from back
    to generation 0 gives that schedule; each step carries the round's settings, its epochs and the
    batch-order seed the round used (kubetune.components.execution.pbt_member), so the refit trains what PBT trained.
    """
    by_round = {(int(r["member"]), int(r["generation"])): r for r in lineage}
    chain: list[dict[str, Any]] = []
    current = member
    for generation in range(generations - 1, -1, -1):
        round_ = by_round[(current, generation)]
        chain.append(round_)
        if round_.get("parent_member") is None:
            break  # this round started from fresh weights: the schedule starts here
        current = int(round_["parent_member"])
    return [
        {
            "generation": int(r["generation"]),
            "member": int(r["member"]),
            "params": dict(r["params"]),
            "epochs": interval,
            "seed": round_seed(seed, int(r["generation"]), int(r["member"])),
        }
        for r in reversed(chain)
    ]


def round_seed(seed: int | None, generation: int, member: int) -> int:
    """A round's batch-order seed: new batches each round, the same ones when the refit replays it."""
    return (seed or 0) + 1000 * generation + member
