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


def test_a_fused_group_comes_back_as_one_result_per_member_and_a_killed_packed_trial_runs_alone(
    tmp_path,
):
    """One worker process trains a fused group of two torch_mlp trials and answers for each; then a
    packed trial whose process the kernel kills (out of memory) is lost with a reason that re-runs it
    alone."""
    from kubetune.components.data.frames import read_source, write_frame
    from kubetune.components.execution import PackingPlan
    from tests.contract.executor_contract import drain, request

    data_uri = str(write_frame(read_source("sklearn:breast_cancer"), tmp_path / "train.parquet"))
    mlp = {"depth": 1, "width": 8, "batch_size": 64, "epochs": 2, "dropout": 0.0}
    executor = LocalExecutor(
        1, packing=PackingPlan("fused", 2, structure=("depth", "width", "batch_size"))
    ).start()
    try:
        executor.submit_group(
            [
                request(data_uri, n, "torch_mlp", {**mlp, "lr": lr})
                for n, lr in ((0, 1e-3), (1, 1e-2))
            ]
        )
        assert executor.running() == [0, 1]
        results = drain(executor, 2, timeout=120)
        assert {r.state for r in results.values()} == {"COMPLETE"}
        assert results[0].values != results[1].values  # each member its own configuration
    finally:
        executor.close()
    executor = LocalExecutor(1, packing=PackingPlan("processes", 2)).start()
    try:
        executor.wait_ready()
        executor.submit_group(
            [request(data_uri, n, "tests.families:SleepFamily", {"sleep": 30}) for n in (2, 3)]
        )
        victim = next(w for w in executor._workers if w.trial_numbers == [2])
        victim.process.kill()  # what the kernel's OOM killer does
        [lost] = drain(executor, 1, timeout=60).values()
        assert lost.trial_number == 2 and lost.retryable and lost.retry_alone
        assert "SIGKILL" in lost.error and "runs again alone" in lost.error
    finally:
        executor.close()
