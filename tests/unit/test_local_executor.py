from kubetune.components.execution import LocalExecutor
from tests.contract.executor_contract import ExecutorContract


class TestLocalExecutorContract(ExecutorContract):
    def make_executor(self, trial_timeout=None):
        return LocalExecutor(self.capacity, trial_timeout=trial_timeout).start()


def test_a_worker_that_never_finishes_starting_fails_its_trial_even_without_a_trial_timeout(
    tmp_path,
):
    from kubetune.components.data.frames import read_source, write_frame
    from tests.contract.executor_contract import drain, request

    data_uri = str(write_frame(read_source("sklearn:breast_cancer"), tmp_path / "train.parquet"))
    # 50 ms is far less than a spawned Python needs to import scikit-learn: the worker is "stuck" starting
    executor = LocalExecutor(1, trial_timeout=None, startup_timeout=0.05)
    try:
        executor.submit(request(data_uri, 0, "tests.families:SleepFamily", {"sleep": 0.1}))
        [stuck] = drain(executor, 1, timeout=60).values()
        assert (
            stuck.state == "FAIL"
            and stuck.error == "worker process did not finish starting (its imports) within 0.05 s"
        )
        executor.startup_timeout = (
            600.0  # the replacement worker is given the usual time, and runs the next trial
        )
        executor.submit(request(data_uri, 1, "tests.families:SleepFamily", {"sleep": 0.1}))
        assert drain(executor, 1, timeout=120)[1].state == "COMPLETE"
    finally:
        executor.close()
