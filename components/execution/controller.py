"""The study controller: ask the sampler, hand trials to an executor, tell the study what came back.

It is the only writer of its trials' outcomes to the study and of their runs to MLflow (with a local
SQLite MLflow store that means a single writer). Several controllers may share one study on a
heartbeat-capable storage (PostgreSQL): the budget is counted study-wide, and each controller fails and
re-queues trials whose heartbeat went stale, whoever started them.

Nothing is lost on interruption. Ctrl-C: the trials in flight are recorded as interrupted and their
parameters queued again. A controller killed outright: on a journal file (one controller per study) the
next start reconciles every RUNNING trial; on PostgreSQL their heartbeats go stale and any controller
re-queues them. A trial lost to its worker dying is re-run with the same parameters up to
``max_retries`` times (kubetune.components.execution.requeue). Storage calls are retried across a database restart.
"""

from __future__ import annotations

import logging
import math
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import optuna
from optuna.trial import FrozenTrial, TrialState

from kubetune.components.core import (
    ATTEMPT,
    CONTROLLER_ATTR,
    CONTROLLER_BEAT_PREFIX,
    FAILURE_REASON,
    INTERRUPTED_ATTR,
    MAX_RETRIES_ATTR,
    MLFLOW_RUN_ID_ATTR,
    PACKING_ALONE,
    PACKING_GROUP,
    PACKING_MODE,
    PACKING_SIZE,
    RETRY_OF,
    TRIAL_STATE_TAG,
    DeferredInterrupt,
    Packing,
    TrialRequest,
    TrialResult,
    pin_params,
    retry_transient,
    storage_of,
    study_id_of,
    trial_id_of,
)
from kubetune.components.execution.budget_lock import budget_lock
from kubetune.components.execution.executor import Executor
from kubetune.components.execution.heartbeat import supports_heartbeat
from kubetune.components.execution.packing import auto_group_size, structure_key
from kubetune.components.execution.requeue import (
    PROVENANCE_PREFIXES,
    STALE_REASON,
    lost_reason,
    requeue,
    study_budget_used,
    tell_once,
)
from kubetune.components.execution.thread_budget import controller_threads, numeric_threads
from kubetune.components.search import CostAwareSampler, Space, suggest
from kubetune.components.tracking import Tracker

log = logging.getLogger("kubetune.controller")


T = TypeVar("T")
RequestFactory = Callable[[int, int, dict[str, Any]], TrialRequest]  # (number, trial_id, params)


@dataclass
class TrialsSummary:
    n_complete: int = 0
    n_failed: int = 0
    n_pruned: int = 0
    n_retried: int = 0
    first_error: str | None = None
    ran_this_time: int = 0
    stopped_by: str = "budget"
    wall_seconds: float = 0.0  # the trial loop alone: ask, submit, wait, tell, MLflow
    startup_seconds: float = 0.0  # waiting for the executor's workers before the first trial

    def add(self, other: TrialsSummary) -> None:
        """Count ``other`` (a later controller's run over the same study, such as a PBT generation) in."""
        self.n_complete += other.n_complete
        self.n_failed += other.n_failed
        self.n_pruned += other.n_pruned
        self.n_retried += other.n_retried
        self.ran_this_time += other.ran_this_time
        self.wall_seconds += other.wall_seconds
        self.first_error = self.first_error or other.first_error
        self.stopped_by = other.stopped_by


@dataclass
class _InFlight:
    trial: optuna.Trial
    run_id: str
    group: str | None = None  # the packed group it runs in (executor.packing)


@dataclass
class _Asked:
    """A trial asked and its parameters drawn, not yet handed to a worker."""

    trial: optuna.Trial
    params: dict[str, Any]
    attrs: dict[str, Any]  # its user attrs when asked: a re-run's or a warm start's provenance

    @property
    def alone(self) -> bool:
        """It ran out of memory packed before: it runs in a group of its own."""
        return bool(self.attrs.get(PACKING_ALONE))


def provenance_tags(attrs: dict[str, Any]) -> dict[str, str]:
    """The run tags for the provenance a trial carries as user attrs (a re-run of which trial, a warm
    start from which run)."""
    tags = {k: str(v) for k, v in attrs.items() if k.startswith(PROVENANCE_PREFIXES)}
    if RETRY_OF in attrs:
        tags |= {RETRY_OF: str(attrs[RETRY_OF]), ATTEMPT: str(attrs.get(ATTEMPT, 1))}
    return tags


class StudyController:
    def __init__(
        self,
        study: optuna.Study,
        space: Space,
        executor: Executor,
        tracker: Tracker,
        parent_run_id: str,
        make_request: RequestFactory,
        metric_names: list[str],
        n_trials: int,
        timeout: float | None = None,
        progress: bool = False,
        max_retries: int = 2,
    ) -> None:
        self.study = study
        self.space = space
        self.executor = executor
        self.tracker = tracker
        self.parent_run_id = parent_run_id
        self.make_request = make_request
        self.metric_names = metric_names
        self.n_trials = n_trials
        self.timeout = timeout
        self.progress = progress
        self.max_retries = max_retries
        self._heartbeat = supports_heartbeat(storage_of(study))
        self._stale_checked_at = 0.0
        self._beat_at = 0.0
        # names this controller on its trials and its beat
        self.controller_id = uuid.uuid4().hex[:12]
        # the sampler's numerical work leaves the local workers their cores (execution.thread_budget)
        self.ask_threads = controller_threads(executor.local_cores())
        # asked and not yet started: asked while every worker was busy (_ask_ahead), or asked for a
        # packed group it did not fit (another structure, a re-run that runs alone); it leads the next
        self._ahead: list[_Asked] = []
        self._durations: list[float] = []  # of the trials this controller recorded, in seconds
        self._started = time.monotonic()

    # -- public -------------------------------------------------------------------------------------

    def run(self) -> TrialsSummary:
        self._db(
            lambda: self.study.set_user_attr(MAX_RETRIES_ATTR, self.max_retries), "set retry limit"
        )
        self._beat_controller()
        self.reconcile_abandoned()
        self.close_dangling_runs()
        summary = TrialsSummary()
        in_flight: dict[int, _InFlight] = self._adopt()
        started = self._started = time.monotonic()
        bar = self._progress_bar(self._budget_used())
        with DeferredInterrupt() as interrupt:  # Ctrl-C between steps, never mid-write
            try:
                while True:
                    interrupt.check()
                    out_of_time = (
                        self.timeout is not None and time.monotonic() - started >= self.timeout
                    )
                    self._beat_for_starting(in_flight)
                    self._check_stale(in_flight)
                    while (
                        not out_of_time
                        and self._free_workers(in_flight) > 0
                        and self._submit_within_budget(in_flight)
                    ):
                        pass
                    if not out_of_time and self._free_workers(in_flight) <= 0:
                        self._ask_ahead()
                    if not in_flight:
                        if not out_of_time and self._budget_used() < self.n_trials:
                            continue  # a stale trial was re-queued meanwhile; run it
                        if not out_of_time and self._others_running():
                            time.sleep(1.0)  # another controller's trials may still be re-queued
                            continue
                        summary.stopped_by = "timeout" if out_of_time else "budget"
                        break
                    for result in self.executor.wait(timeout=1.0):
                        entry = in_flight.pop(result.trial_number, None)
                        if entry is None:
                            continue  # already failed through its heartbeat
                        self._observe(result)
                        self._record(entry, result, summary)
                        summary.ran_this_time += 1
                        self._update_bar(bar)
                interrupt.check()  # pressed while the last results were recorded
                self._release_ahead("not started: the study's timeout came first")
            except KeyboardInterrupt:
                self._interrupt(in_flight, "interrupted by the user (Ctrl-C)")
                raise
            except BaseException:
                self._interrupt(in_flight, "interrupted: the controller stopped on an error")
                raise
            finally:
                summary.wall_seconds = time.monotonic() - started
                if bar is not None:
                    bar.close()
        return summary

    def reconcile_abandoned(self) -> int:
        """Trials a dead controller left RUNNING: record them interrupted and queue them again.

        On a heartbeat storage only stale ones (others may belong to a live controller on another
        machine); on a journal file, all of them (one controller per study there).
        """
        if self._heartbeat:
            return self._check_stale({}, force=True)
        stale = self._db(
            lambda: self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)),
            "list trials",
        )
        for frozen in stale:
            self._fail_and_requeue(
                frozen,
                frozen.user_attrs.get(MLFLOW_RUN_ID_ATTR),
                "interrupted: its controller stopped before the trial finished",
                interrupted=True,
            )
        if stale:
            log.warning(
                "reconciled %d trial(s) left running by an earlier controller; they run again",
                len(stale),
            )
        return len(stale)

    def close_dangling_runs(self) -> int:
        """A controller killed between telling the study and closing the trial's MLflow run leaves a
        finished trial whose run says RUNNING: close it from the study's record."""
        finished = {
            t.user_attrs[MLFLOW_RUN_ID_ATTR]: t
            for t in self._trials()
            if t.state.is_finished() and MLFLOW_RUN_ID_ATTR in t.user_attrs
        }
        closed = 0
        if not finished:
            return closed
        try:
            for run in self.tracker.trial_runs(self.parent_run_id):
                frozen = finished.get(run.info.run_id)
                if frozen is None or run.info.status != "RUNNING":
                    continue
                values = list(frozen.values or [])
                # the study kept the objective values, not the per-fold scores: log those values as they are
                if values:
                    self.tracker.log_metrics(run.info.run_id, dict(zip(self.metric_names, values)))
                result = TrialResult(
                    trial_number=frozen.number,
                    state=frozen.state.name,
                    values=values or None,
                    error=frozen.user_attrs.get(FAILURE_REASON),
                )
                self.tracker.finish_trial_run(run.info.run_id, result, self.metric_names)
                closed += 1
        except Exception as error:  # noqa: BLE001 - bookkeeping of a past run must not stop this one
            log.warning(
                "could not close MLflow runs left open by an earlier controller: %s",
                type(error).__name__,
            )
        if closed:
            log.warning(
                "closed %d MLflow run(s) an earlier controller left open after its trial finished",
                closed,
            )
        return closed

    # -- internals ----------------------------------------------------------------------------------

    def _adopt(self) -> dict[int, _InFlight]:
        """Trials still running in the executor (Kubernetes Jobs of a controller that was restarted):
        track them instead of starting them again; Jobs of trials already finished are deleted."""
        adopted: dict[int, _InFlight] = {}
        for number in self.executor.adopt():
            frozen = self._db(
                lambda: storage_of(self.study).get_trial(self._trial_id(number)), "get trial"
            )
            if frozen.state == TrialState.RUNNING and MLFLOW_RUN_ID_ATTR in frozen.user_attrs:
                adopted[number] = _InFlight(
                    optuna.Trial(self.study, trial_id_of(frozen)),
                    frozen.user_attrs[MLFLOW_RUN_ID_ATTR],
                    frozen.user_attrs.get(PACKING_GROUP),
                )
            else:
                self.executor.cancel(number)
        if adopted:
            log.info(
                "adopted %d running trial(s) from an earlier controller: %s",
                len(adopted),
                sorted(adopted),
            )
        return adopted

    def _db(self, call: Callable[[], T], what: str) -> T:
        return retry_transient(call, what=what)

    def _trials(self) -> list[FrozenTrial]:
        return self._db(lambda: self.study.get_trials(deepcopy=False), "list trials")

    def _budget_used(self) -> int:
        return self._db(lambda: study_budget_used(self.study), "count trials")

    def _others_running(self) -> bool:
        return self._heartbeat and any(t.state == TrialState.RUNNING for t in self._trials())

    def _free_workers(self, in_flight: dict[int, _InFlight]) -> int:
        """Workers with nothing to run: a packed worker is busy until its whole group has finished."""
        busy = {entry.group or f"#{number}" for number, entry in in_flight.items()}
        return self.executor.capacity // self.executor.group_size - len(busy)

    def _submit_within_budget(self, in_flight: dict[int, _InFlight]) -> bool:
        """Start one more worker's trials -- those asked ahead first, then new asks -- if the
        study-wide budget allows; False once it is used up.

        A packed worker gets ``group_size`` trials asked one after the other: each ask sees the ones
        before it running (TPE's constant liar, the GP's running trials), so they spread instead of
        piling onto one point. A fused group's later members have its first member's structure pinned
        (the sampler draws the rest); a trial that does not fit the group (a re-run of another
        structure, or one that must run alone) leads a later group instead."""
        size = self.executor.group_size
        members = self._take_ahead(size)
        asks = 0
        while len(members) < size and not (members and members[0].alone) and asks < size:
            asked = self._ask(pin=self._structure_of(members[0]) if members else None)
            asks += 1
            if asked is None:
                break
            if not members or self._fits(members[0], asked):
                members.append(asked)
            else:
                self._ahead.append(asked)
        if not members:
            return False
        self._start_group(members, in_flight)
        return True

    def _take_ahead(self, size: int) -> list[_Asked]:
        """The trials asked ahead that lead the next group: the first, and those that fit with it."""
        if not self._ahead:
            return []
        lead = self._ahead.pop(0)
        members = [lead]
        for asked in list(self._ahead):
            if len(members) >= size or lead.alone:
                break
            if self._fits(lead, asked):
                self._ahead.remove(asked)
                members.append(asked)
        return members

    def _structure_of(self, asked: _Asked) -> dict[str, Any] | None:
        """The parameters a fused group's members share, as its first member drew them."""
        plan = self.executor.packing
        return plan.shared_by_group(asked.params) if plan is not None else None

    def _fits(self, lead: _Asked, asked: _Asked) -> bool:
        if asked.alone:
            return False
        plan = self.executor.packing
        structure = plan.structure if plan is not None and plan.mode == "fused" else None
        return structure_key(lead.params, structure) == structure_key(asked.params, structure)

    def _start_group(self, members: list[_Asked], in_flight: dict[int, _InFlight]) -> None:
        plan = self.executor.packing
        if plan is None or len(members) == 1:
            self._start(members[0], in_flight)
            return
        packing = Packing(group=f"g{members[0].trial.number}", mode=plan.mode, size=len(members))
        requests = [self._start(asked, in_flight, packing, submit=False) for asked in members]
        self.executor.submit_group(requests)

    def _ask_ahead(self) -> None:
        """Every worker is busy: ask for the next trial now, so that the sampler's work (a GP's kernel
        fit, TPE's density estimates) overlaps the running trials instead of holding the next free
        worker. The proposal is conditioned on the running trials as any parallel ask is; a study on
        one worker keeps its asks after each result, so that every proposal sees every result."""
        if (
            not self._ahead
            and self.executor.capacity > 1
            and self.executor.group_size == 1
            and not self._timeout_before_a_trial()
        ):
            asked = self._ask()
            if asked is not None:
                self._ahead.append(asked)

    def _timeout_before_a_trial(self) -> bool:
        """The study's timeout comes before a running trial would likely finish: a trial asked now
        would not start (no trial starts after the timeout) and would only be recorded as not started."""
        if self.timeout is None:
            return False
        left = self.timeout - (time.monotonic() - self._started)
        typical = statistics.median(self._durations) if self._durations else 0.0
        return left <= typical

    def _ask(self, pin: dict[str, Any] | None = None) -> _Asked | None:
        """A new trial and its parameters, or None when the study-wide budget is used up. ``pin``:
        parameters fixed for it (a fused group's structure) unless it is a re-run with its own."""

        def ask_if_budget_left() -> optuna.Trial | None:
            with budget_lock(self.study), numeric_threads(self.ask_threads):
                return self.study.ask() if self._budget_used() < self.n_trials else None

        trial = self._db(ask_if_budget_left, "ask")
        if trial is None:
            return None
        if pin:
            pin_params(trial, pin)
        # a param already set is returned as is
        # define-by-run: the sampler's work happens here too
        with numeric_threads(self.ask_threads):
            params = self._db(lambda: suggest(trial, self.space), "suggest")
        if self._heartbeat:  # the first beat: a trial whose worker never starts still goes stale
            self._db(
                lambda: storage_of(self.study).record_heartbeat(trial_id_of(trial)), "heartbeat"
            )
            self._db(
                lambda: trial.set_user_attr(CONTROLLER_ATTR, self.controller_id), "set controller"
            )
        attrs = self._db(
            lambda: storage_of(self.study).get_trial_user_attrs(trial_id_of(trial)),
            "get trial attrs",
        )
        return _Asked(trial, params, attrs)

    def _start(
        self,
        asked: _Asked,
        in_flight: dict[int, _InFlight],
        packing: Packing | None = None,
        submit: bool = True,
    ) -> TrialRequest:
        """Create the trial's run and its request; ``submit``: hand it to the executor now (a packed
        group's members are handed over together)."""
        trial, params = asked.trial, asked.params
        tags = provenance_tags(asked.attrs)
        if packing is not None:
            marks = {
                PACKING_GROUP: packing.group,
                PACKING_MODE: packing.mode,
                PACKING_SIZE: packing.size,
            }
            for key, value in marks.items():
                self._db(lambda: trial.set_user_attr(key, value), "set packing")
            tags |= {key: str(value) for key, value in marks.items()}
        run_id = self.tracker.start_trial_run(
            self.parent_run_id, self.study.study_name, trial.number, params, tags
        )
        self._db(lambda: trial.set_user_attr(MLFLOW_RUN_ID_ATTR, run_id), "set run id")
        in_flight[trial.number] = _InFlight(trial, run_id, packing.group if packing else None)
        request = self.make_request(trial.number, trial_id_of(trial), params)
        request = request.model_copy(update={"packing": packing})
        if submit:
            self.executor.submit(request)
        return request

    def _release_ahead(self, reason: str) -> None:
        """Trials asked ahead will not start here (timeout, interrupt): recorded and queued again."""
        released, self._ahead = self._ahead, []
        for asked in released:
            self._release(asked, reason)

    def _release(self, asked: _Asked, reason: str) -> None:
        trial = asked.trial
        # its run, like every trial's, linked from the trial before the trial is told
        run_id = self.tracker.start_trial_run(
            self.parent_run_id, self.study.study_name, trial.number, asked.params, {}
        )
        self._db(lambda: trial.set_user_attr(MLFLOW_RUN_ID_ATTR, run_id), "set run id")
        frozen = self._db(lambda: storage_of(self.study).get_trial(trial_id_of(trial)), "get trial")
        self._fail_and_requeue(frozen, run_id, reason, interrupted=True)

    def _observe(self, result: TrialResult) -> None:
        """The trials' measured time: for asking ahead near the timeout, and for ``sampler: auto``,
        which weighs its asks against it; and ``packing: {trials: auto}`` sized from the first trial
        that measured its memory."""
        self._durations.append(result.duration_s)
        if isinstance(self.study.sampler, CostAwareSampler):
            self.study.sampler.observe_trial(result.duration_s)
        plan = self.executor.packing
        if plan is not None and plan.auto and result.state != "FAIL":
            size = auto_group_size(plan.mode, result)
            self.executor.resize(size)
            log.info(
                "packing: %d trial(s) per worker, %s (sized from trial %d: %s)",
                size,
                plan.mode,
                result.trial_number,
                f"{result.peak_gpu_memory_mb:.0f} MB of {result.device_memory_mb:.0f} MB GPU memory"
                if result.device_memory_mb and result.peak_gpu_memory_mb is not None
                else "no GPU",
            )
            self.tracker.set_tags(self.parent_run_id, {PACKING_SIZE: str(size)})

    def _record(self, entry: _InFlight, result: TrialResult, summary: TrialsSummary) -> None:
        trial, run_id = entry.trial, entry.run_id
        if result.state == "COMPLETE" and not (
            result.values is not None and all(map(math.isfinite, result.values))
        ):
            result = result.model_copy(
                update={"state": "FAIL", "error": f"non-finite objective {result.values}"}
            )
        if result.state == "COMPLETE" and result.values is not None:
            values = result.values if len(result.values) > 1 else result.values[0]
            won = self._db(
                lambda: tell_once(self.study, trial, TrialState.COMPLETE, values), "tell"
            )
            summary.n_complete += won
        elif result.state == "PRUNED":
            won = self._db(lambda: tell_once(self.study, trial, TrialState.PRUNED), "tell")
            summary.n_pruned += won
        else:
            self._db(
                lambda: trial.set_user_attr(FAILURE_REASON, result.error or "unknown error"),
                "set reason",
            )
            won = self._db(lambda: tell_once(self.study, trial, TrialState.FAIL), "tell")
            summary.n_failed += won
            summary.first_error = summary.first_error or result.error
            if (
                won
                and result.retryable
                and self._requeue(
                    trial.number,
                    result.error or "worker lost",
                    count_attempt=not result.retry_alone,
                    alone=result.retry_alone,
                )
            ):
                summary.n_retried += 1
                log.warning(
                    "trial %d lost (%s); re-queued with the same parameters",
                    trial.number,
                    result.error,
                )
            elif won:
                log.warning("trial %d failed: %s", trial.number, result.error)
        # another controller declared it lost and re-queued it; its re-run is what counts
        if not won:
            result = result.model_copy(
                update={
                    "state": "FAIL",
                    "error": f"{STALE_REASON}; it finished later, but its re-run counts instead",
                }
            )
        self.tracker.finish_trial_run(run_id, result, self.metric_names)

    def _requeue(
        self, number: int, reason: str, count_attempt: bool = True, alone: bool = False
    ) -> bool:
        frozen = self._db(
            lambda: storage_of(self.study).get_trial(self._trial_id(number)), "get trial"
        )
        return self._db(
            lambda: requeue(self.study, frozen, reason, count_attempt, alone), "requeue"
        )

    def _trial_id(self, number: int) -> int:
        return storage_of(self.study).get_trial_id_from_study_id_trial_number(
            study_id_of(self.study), number
        )

    def _heartbeat_interval(self) -> float:
        return storage_of(self.study).get_heartbeat_interval() or 10

    def _beat_controller(self) -> None:
        """This controller is alive: a trial of its that goes stale was lost on its own, not with it
        (kubetune.components.execution.requeue.requeue_stale_trial)."""
        if self._heartbeat:
            key = f"{CONTROLLER_BEAT_PREFIX}{self.controller_id}"
            self._db(lambda: self.study.set_user_attr(key, time.time()), "controller heartbeat")

    def _beat_for_starting(self, in_flight: dict[int, _InFlight]) -> None:
        """Beat for trials whose worker has not begun them (a replacement worker still importing, a pod
        waiting for a GPU node or its image): a slow start is not a lost worker. The beat still means
        "someone alive answers for this trial": if this controller dies too, the beats stop, the trial
        goes stale and another controller re-queues it."""
        if not self._heartbeat:
            return
        interval = self._heartbeat_interval()
        if time.monotonic() - self._beat_at < interval:
            return
        self._beat_at = time.monotonic()
        self._beat_controller()
        waiting = [in_flight[n].trial for n in self.executor.starting() if n in in_flight]
        waiting += [asked.trial for asked in self._ahead]
        for trial in waiting:
            self._db(
                lambda: storage_of(self.study).record_heartbeat(trial_id_of(trial)), "heartbeat"
            )

    def _check_stale(self, in_flight: dict[int, _InFlight], force: bool = False) -> int:
        """Fail trials whose heartbeat is stale (the storage callback re-queues them), and let go of
        trials in flight here that another controller has already failed that way."""
        if not self._heartbeat:
            return 0
        interval = self._heartbeat_interval()
        if not force and time.monotonic() - self._stale_checked_at < interval:
            return 0
        self._stale_checked_at = time.monotonic()
        running = {t.number: t for t in self._trials() if t.state == TrialState.RUNNING}
        self._fail_orphans(running, in_flight)
        self._db(lambda: optuna.storages.fail_stale_trials(self.study), "fail stale trials")
        by_number = {t.number: t for t in self._trials()}
        # failed by the stale check (no reason recorded); a trial its owner failed with a reason is the owner's to record
        failed = [
            by_number[n]
            for n in set(running) | set(in_flight)
            if by_number[n].state == TrialState.FAIL
            and (n in in_flight or FAILURE_REASON not in by_number[n].user_attrs)
        ]
        for frozen in failed:
            run_id = frozen.user_attrs.get(MLFLOW_RUN_ID_ATTR)
            # failed by another controller's stale check: not ours to start
            self._ahead = [a for a in self._ahead if a.trial.number != frozen.number]
            if frozen.number in in_flight:
                self.executor.cancel(frozen.number)
                run_id = in_flight.pop(frozen.number).run_id
            self._close_lost_run(
                frozen,
                run_id,
                frozen.user_attrs.get(FAILURE_REASON) or lost_reason(self.study, frozen),
                "FAILED",
            )
        if failed:
            log.warning(
                "%d trial(s) stopped heartbeating; re-queued with the same parameters", len(failed)
            )
        return len(failed)

    def _fail_orphans(
        self, running: dict[int, FrozenTrial], in_flight: dict[int, _InFlight]
    ) -> None:
        """RUNNING trials that never got their run id: an ask whose answer was lost (the database went
        away mid-call, or the controller died right after asking). They have no heartbeat either, so
        Optuna's stale check cannot see them; past the grace period they are failed and re-queued."""
        grace = storage_of(self.study).get_heartbeat_interval() * 3
        grace = getattr(storage_of(self.study), "grace_period", None) or grace
        now = time.time()
        for number, frozen in list(running.items()):
            started = frozen.datetime_start.timestamp() if frozen.datetime_start else now
            if (
                number in in_flight
                or MLFLOW_RUN_ID_ATTR in frozen.user_attrs
                # asked ahead: its controller beats for it, and the stale check fails it if that stops
                or CONTROLLER_ATTR in frozen.user_attrs
                or now - started < grace
            ):
                continue
            self._fail_and_requeue(
                frozen,
                None,
                "orphaned: its start was never completed (database or controller lost)",
                interrupted=True,
            )
            running.pop(number)
            log.warning(
                "trial %d was orphaned while starting; re-queued with the same parameters", number
            )

    def _interrupt(self, in_flight: dict[int, _InFlight], reason: str) -> None:
        self._release_ahead(reason)
        for number, entry in list(in_flight.items()):
            self.executor.cancel(number)
            frozen = self._db(
                lambda: storage_of(self.study).get_trial(trial_id_of(entry.trial)), "get trial"
            )
            self._fail_and_requeue(frozen, entry.run_id, reason, interrupted=True)
        in_flight.clear()

    def _fail_and_requeue(
        self, frozen: FrozenTrial, run_id: str | None, reason: str, interrupted: bool
    ) -> None:
        """Record a trial lost to infrastructure and run it again, unless someone else already did."""
        storage = storage_of(self.study)
        self._db(
            lambda: storage.set_trial_user_attr(trial_id_of(frozen), INTERRUPTED_ATTR, interrupted),
            "mark interrupted",
        )
        self._db(
            lambda: storage.set_trial_user_attr(trial_id_of(frozen), FAILURE_REASON, reason),
            "set reason",
        )
        if self._db(lambda: tell_once(self.study, frozen.number, TrialState.FAIL), "tell"):
            self._db(
                lambda: requeue(self.study, frozen, reason, count_attempt=not interrupted),
                "requeue",
            )
        self._close_lost_run(frozen, run_id, reason, "KILLED")

    def _close_lost_run(
        self, frozen: FrozenTrial, run_id: str | None, reason: str, status: str
    ) -> None:
        """End a lost trial's MLflow run as failed; a trial lost before its run was created (the controller
        died between ask and run) gets one now, so every trial in the study has exactly one run."""
        run_id = run_id or self.tracker.find_trial_run(self.study.study_name, frozen.number)
        if run_id is None:
            run_id = self.tracker.start_trial_run(
                self.parent_run_id, self.study.study_name, frozen.number, dict(frozen.params), {}
            )
        self.tracker.set_tags(run_id, {TRIAL_STATE_TAG: "FAIL", FAILURE_REASON: reason})
        self.tracker.end_run(run_id, status=status)

    def _progress_bar(self, done: int) -> Any:
        if not self.progress:
            return None
        from tqdm.auto import tqdm  # a widget in a notebook, text in a terminal

        return tqdm(
            total=self.n_trials,
            initial=done,
            desc=self.study.study_name,
            unit="trial",
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def _update_bar(self, bar: Any) -> None:
        if bar is None:
            return
        bar.update(1)
        try:
            if len(self.study.directions) == 1:
                bar.set_postfix_str(f"best={self.study.best_value:.5g}")
            else:
                bar.set_postfix_str(f"pareto={len(self.study.best_trials)}")
        except ValueError:
            bar.set_postfix_str("best=n/a")
