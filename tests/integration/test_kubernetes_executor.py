"""The Kubernetes executor through the official client, over HTTP, against a stateful API server and a
test kubelet that runs each pod's command as a local process."""

from __future__ import annotations

import optuna
import pytest
from kubernetes import client

from kubetune.components.execution import KubernetesExecutor, open_storage, read_published
from kubetune.components.spec import KubernetesSpec
from tests.conftest import REPO
from tests.contract.executor_contract import ExecutorContract, drain, request
from tests.k8s.fake_api import FakeKubeAPI
from tests.k8s.kubelet import TestKubelet

NAMESPACE = "kubetune"


def api_client(api: FakeKubeAPI) -> client.ApiClient:
    configuration = client.Configuration()
    configuration.host = api.url
    return client.ApiClient(configuration)


@pytest.fixture
def cluster(postgres_url):
    api = FakeKubeAPI().start()
    behaviours: dict[str, str] = {}
    kubelet = TestKubelet(
        api,
        NAMESPACE,
        {"kubetune-study-db": {"url": postgres_url}},
        behaviour=lambda job: behaviours.get(job["metadata"]["labels"]["kubetune.io/trial"], "run"),
        extra_env={"PYTHONPATH": str(REPO), "DO_NOT_TRACK": "1"},
    ).start()
    yield api, kubelet, behaviours, postgres_url
    kubelet.stop()
    api.stop()


class TestKubernetesExecutorContract(ExecutorContract):
    @pytest.fixture(autouse=True)
    def _cluster(self, cluster):
        self.api, self.kubelet, self.behaviours, url = cluster
        self.storage = open_storage(url)
        self.study = optuna.create_study(study_name="contract", storage=self.storage)

    def new_request(self, data_uri, number, family, params):
        trial = self.study.ask()
        assert trial.number == number
        return request(data_uri, number, family, params).model_copy(
            update={"trial_id": trial._trial_id, "heartbeat_interval": 1}
        )

    def make_executor(self, trial_timeout=None):
        def read(number):
            return read_published(
                self.storage,
                self.storage.get_trial_id_from_study_id_trial_number(self.study._study_id, number),
            )

        settings = KubernetesSpec(namespace=NAMESPACE)
        return KubernetesExecutor(
            settings,
            "contract",
            self.capacity,
            read,
            trial_timeout,
            api_client=api_client(self.api),
        ).start()

    def test_close_leaves_no_job_or_pod(self, executor, data_uri):
        executor.submit(self.new_request(data_uri, 0, "tests.families:SleepFamily", {"sleep": 60}))
        executor.close()
        assert self.api.state.list("jobs", NAMESPACE, None)["items"] == []
        assert self.api.state.list("pods", NAMESPACE, None)["items"] == []

    def test_watch_recovers_from_410_gone(self, executor, data_uri):
        executor.submit(self.new_request(data_uri, 0, "tests.families:SleepFamily", {"sleep": 0.5}))
        self.api.state.compact()  # the executor's resourceVersion is now too old
        executor.submit(self.new_request(data_uri, 1, "tests.families:SleepFamily", {"sleep": 0.5}))
        results = drain(executor, 2)
        assert all(r.state == "COMPLETE" for r in results.values())


def test_fake_api_garbage_collects_pods_of_deleted_jobs():
    """The test double behaves like the cluster here too: a pod created after its Job's deletion goes."""
    api = FakeKubeAPI().start()
    try:
        code, job = api.state.create("jobs", NAMESPACE, {"metadata": {"name": "j"}, "spec": {}})
        api.state.delete("jobs", NAMESPACE, "j", "Background")
        api.state.create(
            "pods",
            NAMESPACE,
            {
                "metadata": {"name": "p", "ownerReferences": [{"uid": job["metadata"]["uid"]}]},
                "spec": {},
            },
        )
        assert api.state.list("pods", NAMESPACE, None)["items"] == []
        assert [e.type for e in api.state.events if e.plural == "pods"] == ["ADDED", "DELETED"]
    finally:
        api.stop()
