from components.executors.local import LocalExecutor
from tests.contract.executor_contract import ExecutorContract


class TestLocalExecutorContract(ExecutorContract):
    def make_executor(self, trial_timeout=None):
        return LocalExecutor(self.capacity, trial_timeout=trial_timeout).start()
