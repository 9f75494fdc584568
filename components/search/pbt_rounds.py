"""Population-based training's rounds as the study records them: each round is one trial whose user
attributes carry the member, its generation, its checkpoints and whom it copied. Reading them back is
what lets a stopped population resume where it was, so it lives beside the decisions (search.pbt).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from optuna.trial import TrialState

from kubetune.components.core import (
    PBT_CHECKPOINT_IN,
    PBT_CHECKPOINT_OUT,
    PBT_COPIED_AT,
    PBT_EXPLOITED,
    PBT_GENERATION,
    PBT_INTERVAL_ATTR,
    PBT_MEMBER,
    PBT_PARENT_MEMBER,
    PBT_PARENT_TRIAL,
    PBTRound,
    StudyConflictError,
)
from kubetune.components.data import join
from kubetune.components.search.pbt import MemberRound, RoundResult


def checkpoint_uri(root: str, generation: int, member: int) -> str:
    return join(root, f"gen-{generation:04d}", f"member-{member:03d}.pt")


def round_attrs(round_: MemberRound, root: str, interval: int) -> dict[str, Any]:
    """What a round's trial carries: where it starts, where it writes, whom it copied and when."""
    attrs: dict[str, Any] = {
        PBT_MEMBER: round_.member,
        PBT_GENERATION: round_.generation,
        PBT_EXPLOITED: round_.exploited,
        PBT_CHECKPOINT_OUT: checkpoint_uri(root, round_.generation, round_.member),
    }
    if round_.parent_member is not None:
        attrs |= {
            PBT_PARENT_MEMBER: round_.parent_member,
            PBT_PARENT_TRIAL: round_.parent_trial,
            PBT_COPIED_AT: round_.generation * interval,
            PBT_CHECKPOINT_IN: checkpoint_uri(root, round_.generation - 1, round_.parent_member),
        }
    return attrs


def round_of(attrs: dict[str, Any], interval: int) -> PBTRound:
    """The round a trial trains, read from the attributes ``round_attrs`` gave it."""
    return PBTRound(
        member=int(attrs[PBT_MEMBER]),
        generation=int(attrs[PBT_GENERATION]),
        interval=interval,
        checkpoint_in=attrs.get(PBT_CHECKPOINT_IN),
        checkpoint_out=attrs[PBT_CHECKPOINT_OUT],
    )


def generation_rng(seed: int | None, generation: int) -> np.random.Generator:
    """The generator that plans ``generation``: its own stream, so planning it again on resume gives the
    same rounds without replaying the generations before it."""
    return np.random.default_rng(None if seed is None else [seed, generation])


def recorded_rounds(study: Any) -> dict[int, list[MemberRound]]:
    """The rounds each generation was planned with, read back from the study's trials (a resumed study).

    A round's first trial carries it as planned: its settings, and whose checkpoint it starts from; a
    retry repeats the same settings and attributes, so later attempts add nothing.
    """
    first: dict[tuple[int, int], Any] = {}
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if PBT_GENERATION in attrs:
            first.setdefault((int(attrs[PBT_GENERATION]), int(attrs[PBT_MEMBER])), trial)
    rounds: dict[int, list[MemberRound]] = {}
    for (generation, member), trial in sorted(first.items()):
        attrs = trial.user_attrs
        # a round never started: as enqueued
        params = dict(trial.params) or dict(trial.system_attrs.get("fixed_params", {}))
        parent = attrs.get(PBT_PARENT_MEMBER)
        rounds.setdefault(generation, []).append(
            MemberRound(
                member,
                generation,
                params,
                None if parent is None else int(parent),
                None if attrs.get(PBT_PARENT_TRIAL) is None else int(attrs[PBT_PARENT_TRIAL]),
                bool(attrs.get(PBT_EXPLOITED, False)),
            )
        )
    return rounds


def check_resume(
    study_name: str, study: Any, population: int, interval: int
) -> dict[int, list[MemberRound]]:
    """The recorded rounds of a resumed PBT study, after checking that the spec keeps its population
    and its interval (epochs per round: checkpoints and lineage count epochs in it)."""
    recorded = recorded_rounds(study)
    check_population(study_name, recorded, population)
    planned = study.user_attrs.get(PBT_INTERVAL_ATTR)
    if planned is not None and int(planned) != interval:
        raise StudyConflictError(
            f"search.pbt.interval: study '{study_name}' was planned with {planned} epoch(s) per round, "
            f"the spec asks for {interval}; keep it to resume, or use another --study-name"
        )
    return recorded


def check_population(
    study_name: str, recorded: dict[int, list[MemberRound]], population: int
) -> None:
    """A resumed study keeps its population: its generations were planned member by member."""
    planned = max((len(rounds) for rounds in recorded.values()), default=population)
    if planned != population:
        raise StudyConflictError(
            f"search.pbt.population: study '{study_name}' was planned with a population of {planned}, "
            f"the spec asks for {population}; keep it to resume, or use another --study-name"
        )


def generation_results(study: Any, generation: int) -> list[RoundResult]:
    """Each member's outcome in one generation; a retried round counts by its last attempt."""
    latest: dict[int, Any] = {}
    for trial in study.get_trials(deepcopy=False):
        if trial.user_attrs.get(PBT_GENERATION) != generation or trial.state == TrialState.WAITING:
            continue
        member = int(trial.user_attrs[PBT_MEMBER])
        if member not in latest or trial.number > latest[member].number:
            latest[member] = trial
    return [
        RoundResult(
            member, t.number, dict(t.params), t.value if t.state == TrialState.COMPLETE else None
        )
        for member, t in sorted(latest.items())
    ]
