"""The controller with real worker processes, a real journal study storage and a real MLflow store."""

import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from kubetune.components.core import INTERRUPTED_ATTR, TrialRequest
from kubetune.components.data.frames import read_source, write_frame
from kubetune.components.execution import LocalExecutor, open_storage
from kubetune.components.execution.controller import StudyController
from kubetune.components.spec import ParamSpec
from kubetune.components.tracking import Tracker

SPACE = {
    "x": ParamSpec(type="float", low=0.0, high=1.0),
    "sleep": ParamSpec(type="float", low=0.0, high=0.05),
}


@pytest.fixture
def setup(tmp_path):
    uri = str(write_frame(read_source("sklearn:breast_cancer"), tmp_path / "train.parquet"))
    storage = open_storage(f"journal://{tmp_path / 'study.journal'}")
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "controller-tests")
    parent = tracker.client.create_run(tracker.experiment_id, run_name="parent").info.run_id
    return uri, storage, tracker, parent


def make_controller(setup, family, n_trials, space=SPACE, parallelism=2, name="s"):
    uri, storage, tracker, parent = setup
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=optuna.samplers.RandomSampler(seed=0),
        direction="maximize",
        load_if_exists=True,
    )

    def make_request(number, trial_id, params):
        return TrialRequest(
            study_name=name,
            trial_number=number,
            params=params,
            family=family,
            task="classification",
            n_classes=2,
            data_uri=uri,
            target="target",
            metrics=["accuracy"],
            validation="holdout",
            folds=2,
            val_size=0.3,
            seed=0,
        )

    executor = LocalExecutor(parallelism).start()
    return StudyController(
        study, space, executor, tracker, parent, make_request, ["accuracy"], n_trials=n_trials
    ), executor


def child_runs(tracker, parent):
    return {int(r.data.tags["kubetune.trial_number"]): r for r in tracker.trial_runs(parent)}


def test_failed_trials_are_recorded_and_the_study_goes_on(setup):
    controller, executor = make_controller(setup, "tests.families:RaiseFamily", n_trials=10)
    with executor:
        summary = controller.run()
    study = controller.study
    states = {t.number: t.state for t in study.trials}
    assert len(states) == 10 and summary.n_failed + summary.n_complete == 10
    assert 0 < summary.n_failed < 10
    runs = child_runs(setup[2], setup[3])
    assert sorted(runs) == list(range(10))
    # MLflow 3's UI opens the experiment as model training, not as a GenAI experiment
    experiment = setup[2].client.get_experiment(setup[2].experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    for trial in study.trials:
        run = runs[trial.number]
        assert run.data.params["x"] == str(trial.params["x"])
        if trial.state == TrialState.FAIL:
            assert run.info.status == "FAILED" and run.data.tags["kubetune.trial_state"] == "FAIL"
            assert "is broken" in run.data.tags["kubetune.failure_reason"]
            assert "is broken" in trial.user_attrs["kubetune.failure_reason"]
            # the whole traceback, where the one-line reason only names the error
            with tempfile.TemporaryDirectory() as folder:
                local = setup[2].client.download_artifacts(run.info.run_id, "error.txt", folder)
                text = Path(local).read_text()
            assert text.startswith("Traceback (most recent call last):") and "is broken" in text
            assert "families.py" in text
        else:
            assert (
                run.info.status == "FINISHED"
                and run.data.tags["kubetune.trial_state"] == "COMPLETE"
            )
            assert run.data.metrics["accuracy"] == trial.value
            # the column the study's, the finalists' and the refit's runs share
            assert run.data.metrics["cv_accuracy"] == trial.value
            assert {"accuracy_fold_0", "accuracy_std", "duration_s", "peak_memory_mb"} <= set(
                run.data.metrics
            )


def test_ctrl_c_records_trials_in_flight_and_a_rerun_finishes_the_budget(setup):
    space = {
        "x": ParamSpec(type="float", low=0.0, high=0.4),
        "sleep": ParamSpec(type="float", low=0.6, high=0.8),
    }
    controller, executor = make_controller(
        setup, "tests.families:SleepFamily", n_trials=8, space=space
    )
    timer = threading.Timer(2.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with executor, pytest.raises(KeyboardInterrupt):
        controller.run()
    first = controller.study.trials
    interrupted = [t for t in first if t.user_attrs.get(INTERRUPTED_ATTR)]
    finished = [t for t in first if t.state == TrialState.COMPLETE]
    assert interrupted and all(t.state == TrialState.FAIL for t in interrupted)
    assert len([t for t in first if t.state == TrialState.WAITING]) == len(interrupted)
    runs = child_runs(setup[2], setup[3])
    assert all(runs[t.number].info.status == "KILLED" for t in interrupted)

    again, executor = make_controller(setup, "tests.families:SleepFamily", n_trials=8, space=space)
    with executor:
        again.run()
    trials = again.study.trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 8
    assert {t.number for t in finished} <= {
        t.number for t in complete
    }  # nothing finished was repeated
    retried = {
        t.user_attrs["kubetune.retry_of"]: t for t in trials if "kubetune.retry_of" in t.user_attrs
    }
    for lost in interrupted:
        assert (
            retried[lost.number].params == lost.params
            and retried[lost.number].state == TrialState.COMPLETE
        )


class CtrlCWhileRecording(Tracker):
    """Ctrl-C pressed while the controller writes a finished trial's MLflow run (the moment that, on a
    SQLite store, used to leave the database locked and the run crashed instead of stopped)."""

    pressed_for: str | None = None

    def finish_trial_run(self, run_id, result, metric_names):
        if self.pressed_for is None and result.state == "COMPLETE":
            self.pressed_for = run_id
            os.kill(os.getpid(), signal.SIGINT)
        return super().finish_trial_run(run_id, result, metric_names)


def test_ctrl_c_during_a_write_lets_the_write_finish_then_stops(setup):
    uri, storage, tracker, parent = setup
    pressing = CtrlCWhileRecording(tracker.tracking_uri, "controller-tests")
    space = {
        "x": ParamSpec(type="float", low=0.0, high=0.4),
        "sleep": ParamSpec(type="float", low=0.3, high=0.4),
    }
    controller, executor = make_controller(
        (uri, storage, pressing, parent), "tests.families:SleepFamily", n_trials=8, space=space
    )
    with executor, pytest.raises(KeyboardInterrupt):
        controller.run()
    assert (
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )  # the controller put Python's handler back
    runs = {r.info.run_id: r for r in tracker.trial_runs(parent)}
    recorded = runs[pressing.pressed_for]
    assert (
        recorded.info.status == "FINISHED"
        and recorded.data.tags["kubetune.trial_state"] == "COMPLETE"
    )
    assert (
        "accuracy" in recorded.data.metrics
    )  # the run being written when Ctrl-C came was written in full
    trials = controller.study.trials
    assert len(trials) < 8, "the study should have stopped, not run its whole budget"
    interrupted = [t for t in trials if t.user_attrs.get(INTERRUPTED_ATTR)]
    assert all(
        runs[t.user_attrs["kubetune.mlflow_run_id"]].info.status == "KILLED" for t in interrupted
    )
    assert all(run.info.status != "RUNNING" for run in runs.values())  # nothing left half-recorded


def test_trials_left_running_by_a_dead_controller_are_reconciled(setup):
    controller, executor = make_controller(setup, "tests.families:SleepFamily", n_trials=3)
    orphan = controller.study.ask(
        {
            "x": optuna.distributions.FloatDistribution(0, 1),
            "sleep": optuna.distributions.FloatDistribution(0, 0.05),
        }
    )
    with executor:
        controller.run()
    frozen = controller.study.trials[orphan.number]
    assert frozen.state == TrialState.FAIL and frozen.user_attrs[INTERRUPTED_ATTR]
    rerun = [
        t for t in controller.study.trials if t.user_attrs.get("kubetune.retry_of") == orphan.number
    ]
    assert rerun and rerun[0].params == orphan.params and rerun[0].state == TrialState.COMPLETE
    assert len([t for t in controller.study.trials if t.state == TrialState.COMPLETE]) == 3


def test_trials_report_intermediate_values_to_the_shared_study(postgres_url, tmp_path):
    """Each fold's running score reaches the study storage while the trial runs (step = fold)."""
    from kubetune.components.data.frames import read_source, write_frame
    from kubetune.components.execution.trial import run_trial

    storage = open_storage(postgres_url)
    study = optuna.create_study(study_name="intermediate", storage=storage, direction="maximize")
    trial = study.ask()
    uri = str(write_frame(read_source("sklearn:breast_cancer"), tmp_path / "train.parquet"))
    result = run_trial(
        TrialRequest(
            study_name="intermediate",
            trial_number=trial.number,
            params={"n_estimators": 10},
            family="random_forest",
            task="classification",
            n_classes=2,
            data_uri=uri,
            target="target",
            metrics=["accuracy"],
            validation="kfold",
            folds=3,
            val_size=0.2,
            seed=0,
            storage_url=postgres_url,
            trial_id=trial._trial_id,
        )
    )
    reported = (
        optuna.load_study(study_name="intermediate", storage=open_storage(postgres_url))
        .trials[0]
        .intermediate_values
    )
    folds = result.fold_scores["accuracy"]
    assert sorted(reported) == [0, 1, 2]
    assert reported[2] == pytest.approx(sum(folds) / 3) and reported[0] == pytest.approx(folds[0])


class ThreadRecordingSampler(optuna.samplers.RandomSampler):
    """Records, while the controller asks, the threads BLAS and torch may use."""

    seen: list[tuple[int, int]] = []

    def sample_independent(self, study, trial, name, distribution):
        import torch
        from threadpoolctl import threadpool_info

        blas = max((pool["num_threads"] for pool in threadpool_info()), default=0)
        ThreadRecordingSampler.seen.append((blas, torch.get_num_threads()))
        return super().sample_independent(study, trial, name, distribution)


def test_the_sampler_runs_with_the_cores_the_local_workers_leave(setup):
    """Workers take cpu_count // parallelism threads each; the controller's asks (the GP's kernel fit
    in torch and BLAS) get what is left, at least one, and torch's setting is put back after."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    controller, executor = make_controller(
        setup, "tests.families:SleepFamily", n_trials=4, name="threads"
    )
    controller.study.sampler = ThreadRecordingSampler(seed=0)
    ThreadRecordingSampler.seen = []
    with executor:
        controller.run()
    expected = max(1, (os.cpu_count() or 1) - executor.local_cores())
    assert controller.ask_threads == expected
    assert ThreadRecordingSampler.seen and all(
        blas <= expected and torch_threads <= expected
        for blas, torch_threads in ThreadRecordingSampler.seen
    )
    assert torch.get_num_threads() == (os.cpu_count() or 1)


class RunningAtAsk(optuna.samplers.RandomSampler):
    """Records, as each trial is asked, how many of the study's trials are running (itself included)."""

    seen: list[int] = []

    def before_trial(self, study, trial):
        RunningAtAsk.seen.append(
            len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        )


def test_the_next_trial_is_asked_while_every_worker_is_busy(setup):
    """The sampler's ask overlaps the running trials: with both workers busy the controller already
    holds the next configuration, and hands it over as soon as one finishes."""
    space = {
        "x": ParamSpec(type="float", low=0.0, high=1.0),
        "sleep": ParamSpec(type="float", low=0.3, high=0.4),
    }
    controller, executor = make_controller(
        setup, "tests.families:SleepFamily", n_trials=8, space=space, name="ahead"
    )
    controller.study.sampler = RunningAtAsk(seed=0)
    RunningAtAsk.seen = []
    with executor:
        summary = controller.run()
    trials = controller.study.trials
    assert summary.n_complete == 8 and [t.state for t in trials] == [TrialState.COMPLETE] * 8
    # asked with two trials training: the third running trial is the one asked ahead
    assert max(RunningAtAsk.seen) == 3 and RunningAtAsk.seen.count(3) >= 4
    runs = child_runs(setup[2], setup[3])
    assert sorted(runs) == list(range(8)) and all(
        r.info.status == "FINISHED" for r in runs.values()
    )


def test_a_trial_asked_ahead_when_the_timeout_comes_is_recorded_and_queued_again(setup):
    space = {
        "x": ParamSpec(type="float", low=0.0, high=1.0),
        "sleep": ParamSpec(type="float", low=0.5, high=0.6),
    }
    controller, executor = make_controller(
        setup, "tests.families:SleepFamily", n_trials=50, space=space, name="ahead-timeout"
    )
    controller.timeout = (
        0.3  # before any trial has finished: nothing says the next one would not start
    )
    with executor:
        summary = controller.run()
    assert summary.stopped_by == "timeout"
    trials = controller.study.trials
    never_started = [
        t
        for t in trials
        if t.user_attrs.get("kubetune.failure_reason", "").startswith("not started")
    ]
    assert len(never_started) == 1 and never_started[0].state == TrialState.FAIL
    waiting = [t for t in trials if t.state == TrialState.WAITING]
    assert [t.system_attrs["fixed_params"] for t in waiting] == [
        never_started[0].params
    ]  # a resume runs it
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.FAIL, TrialState.WAITING}
    runs = child_runs(setup[2], setup[3])
    assert runs[never_started[0].number].info.status == "KILLED"


def test_no_trial_is_asked_ahead_when_the_timeout_comes_before_a_trial_would_finish(setup):
    """A trial asked then would not start (none starts after the timeout): not asked, not recorded."""
    controller, executor = make_controller(setup, "tests.families:SleepFamily", n_trials=5)
    with executor:
        controller.timeout = 10.0
        controller._durations = [4.0, 6.0]  # trials of about 5 s
        controller._started = time.monotonic() - 4.0  # 6 s left: one more trial fits
        assert not controller._timeout_before_a_trial()
        controller._started = time.monotonic() - 6.0  # 4 s left
        assert controller._timeout_before_a_trial()
        controller.timeout = None
        assert not controller._timeout_before_a_trial()
