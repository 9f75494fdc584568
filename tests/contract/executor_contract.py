"""The executor contract, as a test suite any executor runs by subclassing and providing ``make_executor``.

Every backend must: run trials in parallel up to its capacity, return one result per trial, turn an
exception into a FAIL with the reason, turn a process/pod that dies into a FAIL without hanging, and
stop a trial on cancel.
"""

from __future__ import annotations

import time

import pytest

from kubetune.components.core import TrialRequest
from kubetune.components.data.frames import read_source, write_frame


def request(data_uri: str, number: int, family: str, params: dict) -> TrialRequest:
    return TrialRequest(
        study_name="contract",
        trial_number=number,
        params=params,
        family=family,
        task="classification",
        n_classes=2,
        data_uri=data_uri,
        target="target",
        metrics=["accuracy"],
        validation="holdout",
        folds=2,
        val_size=0.3,
        seed=0,
    )


def drain(executor, expected: int, timeout: float = 120.0) -> dict:
    results, deadline = {}, time.monotonic() + timeout
    while len(results) < expected and time.monotonic() < deadline:
        for result in executor.wait(timeout=1.0):
            assert result.trial_number not in results, "a trial was reported twice"
            results[result.trial_number] = result
    assert len(results) == expected, f"got {len(results)} of {expected} results"
    return results


class ExecutorContract:
    capacity = 2

    def make_executor(self, trial_timeout=None):  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def new_request(self, data_uri: str, number: int, family: str, params: dict) -> TrialRequest:
        """Executors whose trials report to a study (pods) override this to attach a real trial."""
        return request(data_uri, number, family, params)

    @pytest.fixture
    def data_uri(self, tmp_path):
        return str(write_frame(read_source("sklearn:breast_cancer"), tmp_path / "train.parquet"))

    @pytest.fixture
    def executor(self):
        executor = self.make_executor()
        yield executor
        executor.close()

    def test_runs_up_to_capacity_in_parallel_and_returns_every_result(self, executor, data_uri):
        for number in range(self.capacity):
            executor.submit(
                self.new_request(data_uri, number, "tests.families:SleepFamily", {"sleep": 1.5})
            )
        assert sorted(executor.running()) == list(range(self.capacity))
        results = drain(executor, self.capacity)
        assert all(r.state == "COMPLETE" and r.values for r in results.values())
        assert executor.running() == []

    def test_a_trial_is_starting_until_its_worker_runs_it(self, executor, data_uri):
        """Right after submit no worker can have begun the trial (local workers are still importing, no
        pod exists yet): it is "starting", and the controller beats for it. Once it runs, it is not."""
        executor.submit(self.new_request(data_uri, 0, "tests.families:SleepFamily", {"sleep": 4.0}))
        assert executor.starting() == [0]
        results, deadline = [], time.monotonic() + 60
        while executor.starting() and time.monotonic() < deadline:
            results += executor.wait(timeout=0.2)
        assert results == [], "the 4-second trial should be seen running before it finishes"
        assert executor.starting() == [] and executor.running() == [0]
        assert drain(executor, 1)[0].state == "COMPLETE"
        assert executor.starting() == []

    def test_an_exception_is_a_failed_trial_with_its_reason(self, executor, data_uri):
        executor.submit(self.new_request(data_uri, 0, "tests.families:RaiseFamily", {"x": 0.9}))
        executor.submit(self.new_request(data_uri, 1, "tests.families:RaiseFamily", {"x": 0.1}))
        results = drain(executor, 2)
        assert (
            results[0].state == "FAIL"
            and "RuntimeError: configuration x=0.900 is broken" in results[0].error
        )
        assert results[1].state == "COMPLETE"

    def test_a_dying_worker_fails_its_trial_and_the_executor_goes_on(self, executor, data_uri):
        executor.submit(self.new_request(data_uri, 0, "tests.families:CrashFamily", {"x": 0.9}))
        results = drain(executor, 1)
        assert results[0].state == "FAIL" and "17" in results[0].error  # the exit code is named
        executor.submit(self.new_request(data_uri, 1, "tests.families:CrashFamily", {"x": 0.1}))
        assert drain(executor, 1)[1].state == "COMPLETE"

    def test_trial_timeout_kills_the_trial(self, data_uri):
        executor = self.make_executor(trial_timeout=2.0)
        try:
            executor.submit(
                self.new_request(data_uri, 0, "tests.families:SleepFamily", {"sleep": 60})
            )
            result = drain(executor, 1, timeout=40)[0]
            assert result.state == "FAIL" and "timeout of 2 s" in result.error
        finally:
            executor.close()

    def test_cancel_stops_a_running_trial(self, executor, data_uri):
        executor.submit(self.new_request(data_uri, 0, "tests.families:SleepFamily", {"sleep": 60}))
        time.sleep(0.5)
        executor.cancel(0)
        assert executor.running() == []
        executor.submit(self.new_request(data_uri, 1, "tests.families:SleepFamily", {"sleep": 0}))
        assert drain(executor, 1)[1].state == "COMPLETE"
