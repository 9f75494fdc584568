"""Re-running trials lost to infrastructure, with their parameters, up to a limit.

A trial whose worker died (process killed, pod evicted, node lost, heartbeat stopped) or that was
interrupted says nothing about its configuration, so it is run again with the same parameters. The
link lives on the *new* trial (``kubetune.retry_of``), because Optuna freezes a trial once it is
finished; a failed trial that has such a successor does not count against the study's budget.
Interruptions by the user are re-queued without using up an attempt.
"""

from __future__ import annotations

import time
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from kubetune.components.core import (
    ATTEMPT,
    CONTROLLER_ATTR,
    CONTROLLER_BEAT_PREFIX,
    MAX_RETRIES_ATTR,
    PACKING_ALONE,
    PBT_PREFIX,
    RETRY_OF,
    RETRY_REASON,
    WARM_START_PREFIX,
    rdb_engine,
    rdb_models,
    storage_of,
    study_id_of,
)

# user attrs a re-run keeps and MLflow shows as tags
PROVENANCE_PREFIXES = (
    WARM_START_PREFIX,
    PBT_PREFIX,
)
STALE_REASON = "its worker stopped heartbeating (process, pod or node lost)"
LOST_WITH_CONTROLLER = (
    "interrupted: its controller stopped heartbeating (killed, or its machine lost)"
)


def tell_once(
    study: optuna.Study, trial: optuna.Trial | int, state: TrialState, values: Any = None
) -> bool:
    """Finish a RUNNING trial; False when someone else (another controller's stale check) finished it first.

    Optuna locks the trial's row while it changes state, so exactly one caller wins. Only the winner may
    re-queue a lost trial: two successors of one failed trial would overshoot the study's budget.
    """
    number = trial if isinstance(trial, int) else trial.number
    storage = storage_of(study)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id_of(study), number)

    def finished() -> bool:
        return storage.get_trial(trial_id).state.is_finished()

    if finished():
        return False
    try:
        study.tell(trial, values, state=state)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    except (
        ValueError
    ):  # "Cannot tell a FAIL trial": finished between the check above and tell's own
        if finished():
            return False
        raise
    return True


def requeue(
    study: optuna.Study,
    trial: FrozenTrial,
    reason: str,
    count_attempt: bool = True,
    alone: bool = False,
) -> bool:
    """Enqueue ``trial``'s parameters again unless its attempts are used up; returns whether it was.
    ``alone``: its re-run is not packed with other trials (it ran out of memory packed)."""
    attempt = int(trial.user_attrs.get(ATTEMPT, 1))
    max_retries = int(study.user_attrs.get(MAX_RETRIES_ATTR, 2))
    if count_attempt and attempt > max_retries:
        return False
    attrs: dict[str, Any] = {
        k: v for k, v in trial.user_attrs.items() if k.startswith(PROVENANCE_PREFIXES)
    }
    attrs |= {
        RETRY_OF: trial.number,
        ATTEMPT: attempt + 1 if count_attempt else attempt,
        RETRY_REASON: reason,
    }
    if alone:
        attrs[PACKING_ALONE] = True
    study.enqueue_trial(dict(trial.params), user_attrs=attrs, skip_if_exists=False)
    return True


def requeue_stale_trial(study: optuna.Study, trial: FrozenTrial) -> None:
    """Optuna's heartbeat_stale_trial_callback: same policy for every controller sharing the study.

    A trial lost together with the controller that asked for it (the controller was killed, and its
    workers with it) is re-run without using one of its retries: three controller crashes with the same
    trial in flight must not fail that trial for good. Only a trial whose own worker was lost while its
    controller lived counts an attempt."""
    reason = lost_reason(study, trial)
    requeue(study, trial, reason, count_attempt=reason != LOST_WITH_CONTROLLER)


def lost_reason(study: optuna.Study, trial: FrozenTrial) -> str:
    """Why a trial went stale: lost with its controller, or its worker lost on its own."""
    if controller_gone(study, trial.user_attrs.get(CONTROLLER_ATTR)):
        return LOST_WITH_CONTROLLER
    return STALE_REASON


def controller_gone(study: optuna.Study, controller: str | None) -> bool:
    """Whether ``controller`` stopped beating: no beat within two heartbeat intervals (it beats every one)."""
    if controller is None:
        return False
    beat = study.user_attrs.get(f"{CONTROLLER_BEAT_PREFIX}{controller}")
    interval = float(storage_of(study).get_heartbeat_interval() or 10)
    return beat is None or time.time() - float(beat) > 2 * interval


def requeued_numbers(trials: list[FrozenTrial]) -> set[int]:
    return {int(t.user_attrs[RETRY_OF]) for t in trials if RETRY_OF in t.user_attrs}


def budget_used(trials: list[FrozenTrial]) -> int:
    """Trials that count against n_trials: finished ones not re-run, plus those running anywhere."""
    rerun = requeued_numbers(trials)
    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    return sum(
        1
        for t in trials
        if t.state in counted or (t.state == TrialState.FAIL and t.number not in rerun)
    )


_COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.FAIL)


def study_budget_used(study: optuna.Study) -> int:
    """``budget_used`` counted by the database itself: one statement, read past Optuna's trial cache.

    Optuna wraps an RDB storage in a per-process cache of trials; the count that decides whether one more
    trial may start is read from the database, under the budget lock, not from that cache. Each re-queue
    creates exactly one successor (tagged ``kubetune.retry_of``) of one failed trial, so the failed trials
    that do not count are exactly as many as the successors. Both counts are one statement, so they see
    one snapshot: a re-queue committing between two separate queries could make the difference wrong.
    """
    engine = rdb_engine(study)
    if engine is None:
        return budget_used(study.get_trials(deepcopy=False))
    models = rdb_models()
    from sqlalchemy import func, select

    counted = (
        select(func.count())
        .select_from(models.TrialModel)
        .where(
            models.TrialModel.study_id == study_id_of(study), models.TrialModel.state.in_(_COUNTED)
        )
    )
    successors = (
        select(func.count())
        .select_from(models.TrialUserAttributeModel)
        .join(
            models.TrialModel, models.TrialModel.trial_id == models.TrialUserAttributeModel.trial_id
        )
        .where(
            models.TrialModel.study_id == study_id_of(study),
            models.TrialUserAttributeModel.key == RETRY_OF,
        )
    )
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(counted.scalar_subquery() - successors.scalar_subquery())
            ).scalar_one()
        )
