"""Population-based training on any executor: rounds of trials, exploit/explore between them.

Each member's round is an ordinary trial of the study (enqueued with its settings, so Optuna, MLflow,
heartbeats, retries and the Kubernetes executor work unchanged); its user attributes carry the member,
generation, checkpoints and lineage, which the controller copies to the trial's MLflow run as
``kubetune.pbt.*`` tags. Between rounds ``kubetune.components.search.pbt`` decides who copies whom. The parent run gets
``pbt_lineage.json``: every round, whose checkpoint it started from, at which epoch, with which settings.

Because the rounds live on the study's trials, a stopped PBT study resumes like any other: the same
command reads back the generations already planned (``recorded_rounds``), runs what is left of the last
one (its interrupted rounds were re-queued), and plans the rest. Each generation draws from its own
generator, seeded by the study seed and the generation, so a resumed study plans what an uninterrupted
one would have.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from optuna.trial import TrialState

from kubetune.components.data import ArtifactError, delete, join
from kubetune.components.execution import StudyController, TrialsSummary
from kubetune.components.core import PBT_BEST_MEMBER_TAG, PBT_BEST_TRIAL_TAG, PBT_CHECKPOINT_IN, PBT_CHECKPOINT_OUT, PBT_COPIED_AT, PBT_EXPLOITED, PBT_GENERATION, PBT_INTERVAL_ATTR, PBT_MEMBER, PBT_PARENT_MEMBER, PBT_PARENT_TRIAL, PBT_PREFIX, StudyConflictError
from kubetune.components.models import get_family
from kubetune.components.search import MemberRound, RoundResult, first_generation, member_space, next_generation, replay_schedule
from kubetune.components.pipeline.prepare import PreparedData
from kubetune.components.search import Space, space_fingerprint
from kubetune.components.spec import TuneSpec
from kubetune.components.execution import open_storage, storage_url
from kubetune.components.search import open_study
from kubetune.components.warmstart import WarmStartPlan

log = logging.getLogger("kubetune")



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


def run_pbt(spec: TuneSpec, prepared: PreparedData, space: Space, parent_run_id: str, progress: bool, warm: WarmStartPlan | None = None) -> Any:
    """All generations; returns the tuning module's SearchOutcome for the best member of the last one.

    The warm start's configurations (at most the population; kubetune.components.pipeline.tuning.warm_start_limit) are
    the first members' initial settings, and their first rounds carry the past run they came from."""
    from kubetune.components.pipeline.tuning import SearchOutcome, _failed_search, make_executor, make_request_factory, make_tracker, warm_provenance

    settings = spec.search.pbt
    family = get_family(spec.model.family)
    structure = family.structure
    direction = spec.objective.directions[0]
    members_space = member_space(spec, space)
    root = join(prepared.train_uri.rsplit("/", 1)[0], "pbt")  # beside the prepared data: local folder or S3
    storage = open_storage(storage_url(spec.storage.url), spec.storage.heartbeat_interval, spec.storage.grace_period)
    import optuna

    study, resumed = open_study(
        spec.study_name, storage, optuna.samplers.RandomSampler(seed=spec.search.seed), spec.objective.directions, space_fingerprint(members_space), prepared.fingerprint
    )
    recorded = check_resume(spec.study_name, study, settings.population, settings.interval) if resumed else {}
    if resumed and study.trials and not recorded:
        raise StudyConflictError(f"study '{spec.study_name}' holds trials that are not population-based training; use another --study-name")
    if PBT_INTERVAL_ATTR not in study.user_attrs:
        study.set_user_attr(PBT_INTERVAL_ATTR, settings.interval)
    if recorded:
        log.info("pbt: resuming study %s at generation %d of %d", spec.study_name, max(recorded), settings.generations)
    tracker = make_tracker(spec)
    base_request = make_request_factory(spec, prepared, members_space)

    def make_request(number: int, trial_id: int, params: dict[str, Any]) -> Any:
        attrs = storage.get_trial_user_attrs(trial_id)
        round_ = {
            "member": attrs[PBT_MEMBER],
            "generation": attrs[PBT_GENERATION],
            "interval": settings.interval,
            "checkpoint_in": attrs.get(PBT_CHECKPOINT_IN),
            "checkpoint_out": attrs[PBT_CHECKPOINT_OUT],
        }
        return base_request(number, trial_id, params).model_copy(update={"pbt": round_})

    executor = make_executor(spec, storage).start()
    total = TrialsSummary()
    lineage: list[dict[str, Any]] = []
    starts = (warm.configs if warm else [])[: settings.population]
    rounds = [] if 0 in recorded else first_generation(members_space, settings.population, generation_rng(spec.search.seed, 0), [c.params for c in starts])
    if starts:
        log.info("pbt: members 0-%d start from warm-start configurations", len(starts) - 1)
    try:
        for generation in range(settings.generations):
            if generation in recorded:
                rounds = recorded[generation]  # planned and enqueued by the run that stopped; its controller finishes them
            else:
                for round_ in rounds:
                    attrs = round_attrs(round_, root, settings.interval)
                    if generation == 0 and round_.member < len(starts):
                        attrs |= warm_provenance(starts[round_.member])
                    study.enqueue_trial(round_.params, user_attrs=attrs, skip_if_exists=False)
            controller = StudyController(
                study, members_space, executor, tracker, parent_run_id, make_request, spec.objective.metrics,
                n_trials=(generation + 1) * settings.population, timeout=spec.search.timeout,
                progress=progress, max_retries=spec.search.max_retries,
            )
            summary = controller.run()
            _add(total, summary)
            if settings.keep_checkpoints == "last" and generation > 0:
                drop_checkpoints(root, generation - 1, settings.population)  # generation g trained from them; nobody reads them again
            results = generation_results(study, generation)
            lineage += [r.lineage() | {"value": _value_of(results, r.member), "trial": _trial_of(results, r.member)} for r in rounds]
            done = [r for r in results if r.value is not None]
            log.info("pbt generation %d: %d/%d members trained, best %s", generation, len(done), len(results), _best(done, direction))
            if generation + 1 < settings.generations and generation + 1 not in recorded:
                rounds = next_generation(
                    results, members_space, structure, direction, generation + 1, generation_rng(spec.search.seed, generation + 1),
                    settings.quantile, tuple(settings.perturb), settings.resample_probability,
                )
    finally:
        executor.close()
    tracker.log_dict(parent_run_id, {"population": settings.population, "interval": settings.interval, "rounds": lineage}, "pbt_lineage.json")
    last = [r for r in generation_results(study, settings.generations - 1) if r.value is not None]
    if not last:
        failure = f"no member finished the last generation; first error: {total.first_error or 'unknown'}"
        return _failed_search(tracker, parent_run_id, failure, total, len(study.trials))
    best = min(last, key=lambda r: r.value if direction == "minimize" else -r.value)
    epochs = settings.generations * settings.interval
    fidelity = family.fidelity
    params = dict(best.params) | ({fidelity.param: epochs} if fidelity else {})
    tracker.set_tags(parent_run_id, {PBT_BEST_MEMBER_TAG: str(best.member), PBT_BEST_TRIAL_TAG: str(best.trial_number)})
    schedule = replay_schedule(lineage, best.member, settings.generations, settings.interval, spec.search.seed)
    return SearchOutcome(best.trial_number, params, [best.value], total, len(study.trials), schedule=schedule)


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
        params = dict(trial.params) or dict(trial.system_attrs.get("fixed_params", {}))  # a round never started: as enqueued
        parent = attrs.get(PBT_PARENT_MEMBER)
        rounds.setdefault(generation, []).append(MemberRound(
            member, generation, params, None if parent is None else int(parent),
            None if attrs.get(PBT_PARENT_TRIAL) is None else int(attrs[PBT_PARENT_TRIAL]), bool(attrs.get(PBT_EXPLOITED, False)),
        ))
    return rounds




def check_resume(study_name: str, study: Any, population: int, interval: int) -> dict[int, list[MemberRound]]:
    """The recorded rounds of a resumed PBT study, after checking that the spec keeps its population
    and its interval (epochs per round: checkpoints and lineage count epochs in it). A study begun
    before the interval was stored is checked on its population only."""
    recorded = recorded_rounds(study)
    check_population(study_name, recorded, population)
    planned = study.user_attrs.get(PBT_INTERVAL_ATTR)
    if planned is not None and int(planned) != interval:
        raise StudyConflictError(
            f"search.pbt.interval: study '{study_name}' was planned with {planned} epoch(s) per round, "
            f"the spec asks for {interval}; keep it to resume, or use another --study-name"
        )
    return recorded


def check_population(study_name: str, recorded: dict[int, list[MemberRound]], population: int) -> None:
    """A resumed study keeps its population: its generations were planned member by member."""
    planned = max((len(rounds) for rounds in recorded.values()), default=population)
    if planned != population:
        raise StudyConflictError(
            f"search.pbt.population: study '{study_name}' was planned with a population of {planned}, "
            f"the spec asks for {population}; keep it to resume, or use another --study-name"
        )


def drop_checkpoints(root: str, generation: int, population: int) -> None:
    """Delete one generation's checkpoints (``keep_checkpoints: last``). The refit replays the schedule
    from scratch and later rounds read only the generation before theirs, so nothing needs them; a
    deletion that fails costs disk, not the study."""
    for member in range(population):
        uri = checkpoint_uri(root, generation, member)
        try:
            delete(uri)
        except ArtifactError as error:
            log.warning("pbt: could not delete checkpoint %s: %s", uri, error)


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
        RoundResult(member, t.number, dict(t.params), t.value if t.state == TrialState.COMPLETE else None)
        for member, t in sorted(latest.items())
    ]


def _value_of(results: list[RoundResult], member: int) -> float | None:
    return next((r.value for r in results if r.member == member), None)


def _trial_of(results: list[RoundResult], member: int) -> int | None:
    return next((r.trial_number for r in results if r.member == member), None)


def _best(results: list[RoundResult], direction: str) -> str:
    if not results:
        return "n/a"
    values = [r.value for r in results]
    return f"{(max(values) if direction == 'maximize' else min(values)):.5g}"


def _add(total: TrialsSummary, summary: TrialsSummary) -> None:
    total.n_complete += summary.n_complete
    total.n_failed += summary.n_failed
    total.n_retried += summary.n_retried
    total.ran_this_time += summary.ran_this_time
    total.wall_seconds += summary.wall_seconds
    total.first_error = total.first_error or summary.first_error
