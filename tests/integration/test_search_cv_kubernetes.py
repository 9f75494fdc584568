"""KubetuneSearchCV with executor="kubernetes" on the stateful API server and the test kubelet: every
candidate's folds run as one trial Job (``kubetune-trial`` in a process with the pod's environment),
the batch and its output travel through the artifact store, and the result is the same search a local
run gives; bad settings and an estimator the image cannot import stop before any Job exists."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kubetune import KubetuneSearchCV
from kubetune.components.estimators import SearchSettingError
from kubetune.components.execution import ClusterProblem
from tests.conftest import REPO
from tests.k8s.fake_api import FakeKubeAPI
from tests.k8s.kubelet import TestKubelet

NAMESPACE = "kubetune"
SPACE = {"logisticregression__C": {"type": "float", "low": 1e-2, "high": 10, "log": True}}


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    api = FakeKubeAPI().start()
    behaviours: dict[str, str] = {}
    kubelet = TestKubelet(
        api,
        NAMESPACE,
        {},
        behaviour=lambda job: behaviours.get(job["metadata"]["labels"]["kubetune.io/trial"], "run"),
        extra_env={"PYTHONPATH": str(REPO), "DO_NOT_TRACK": "1"},
    ).start()
    monkeypatch.setenv("KUBECONFIG", api.kubeconfig(tmp_path / "kubeconfig"))
    yield api, behaviours
    kubelet.stop()
    api.stop()


def search(tmp_path, **kwargs):
    arguments = dict(
        n_trials=4,
        n_jobs=2,
        cv=3,
        random_state=0,
        scoring=["accuracy", "f1_macro"],
        refit="accuracy",
        return_train_score=True,
        executor="kubernetes",
        # the batches need no study storage: no Secret for it
        kubernetes={"namespace": NAMESPACE, "secretEnv": {}, "unschedulableTimeout": 3},
        artifact_uri=str(tmp_path / "artifacts"),
    )
    return KubetuneSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=400)),
        SPACE,
        **(arguments | kwargs),
    )


def job_names(api) -> list[str]:
    return [
        name for verb, plural, _, name in api.state.audit if verb == "create" and plural == "jobs"
    ]


def test_candidates_run_as_trial_jobs_and_match_a_local_search(cluster, tmp_path):
    api, _ = cluster
    X, y = load_wine(return_X_y=True)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    remote = search(
        tmp_path, experiment="wine-cluster", tracking_uri=uri, study_name="wine-on-k8s"
    ).fit(X, y)
    local = search(tmp_path, executor="local").fit(X, y)

    # one Job per candidate (its three folds in one pod), labelled with the search
    jobs = job_names(api)
    assert len(jobs) == 4 and all(name.startswith("kt-wine-on-k8s-") for name in jobs)
    # the same candidates, the same fold scores: only where the fits ran differs
    assert remote.cv_results_["params"] == local.cv_results_["params"]
    for key in local.cv_results_:
        if key.startswith(("split", "mean_test", "mean_train", "rank")):
            np.testing.assert_allclose(remote.cv_results_[key], local.cv_results_[key], err_msg=key)
    assert remote.best_params_ == local.best_params_
    assert remote.predict(X[:10]).tolist() == local.predict(X[:10]).tolist()
    # nothing left in the cluster; batches and outputs went through the artifact store
    assert api.state.list("jobs", NAMESPACE, None)["items"] == []
    assert (
        len(list((tmp_path / "artifacts" / "search-cv" / "wine-on-k8s").glob("*/batch-*.out.pkl")))
        == 4
    )

    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("wine-cluster")
    runs = client.search_runs([experiment.experiment_id])
    roles = sorted(run.data.tags["kubetune.role"] for run in runs)
    assert roles == ["refit", "study", "trial", "trial", "trial", "trial"]
    parent = next(run for run in runs if run.data.tags["kubetune.role"] == "study")
    assert parent.data.params["executor"] == "kubernetes"
    assert parent.data.metrics["cv_accuracy"] == pytest.approx(remote.best_score_)


def test_an_estimator_the_image_cannot_import_stops_before_any_job(cluster, tmp_path):
    api, _ = cluster
    import tests.families  # a module no trial image holds

    class_from_tests = type("Wrapped", (LogisticRegression,), {"__module__": "tests.families"})
    tests.families.Wrapped = class_from_tests
    bad = KubetuneSearchCV(
        class_from_tests(),
        {"C": SPACE["logisticregression__C"]},
        executor="kubernetes",
        kubernetes={"namespace": NAMESPACE, "secretEnv": {}},
        artifact_uri=str(tmp_path / "artifacts"),
        experiment="never",
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
    )
    with pytest.raises(SearchSettingError) as raised:
        bad.fit(*load_wine(return_X_y=True))
    assert str(raised.value) == (
        "estimator: the trial image kubetune-trial:0.1.0 cannot import tests.families.Wrapped ('tests' is not "
        "installed there); build an image with it and name the module in image_modules=['tests']"
    )
    assert job_names(api) == [] and not (tmp_path / "mlflow.db").exists()
    with pytest.raises(SearchSettingError, match=r"^kubernetes\.namespace: "):
        search(tmp_path, kubernetes={"namespace": 7}).fit(*load_wine(return_X_y=True))
    assert job_names(api) == []


def test_an_image_that_cannot_be_pulled_fails_the_search_in_one_line(cluster, tmp_path):
    api, behaviours = cluster
    for number in range(8):
        behaviours[str(number)] = "image_pull"
    with pytest.raises(ClusterProblem) as raised:
        search(tmp_path, n_trials=2).fit(*load_wine(return_X_y=True))
    assert str(raised.value).startswith(
        "the trial image kubetune-trial:0.1.0 cannot be pulled (ErrImagePull"
    )
    assert api.state.list("jobs", NAMESPACE, None)["items"] == []  # the search's Jobs deleted


def test_batches_travel_through_s3_with_credentials_from_secrets(tmp_path, monkeypatch, s3):
    """The production shape: the artifact store is S3 (moto's server over HTTP); the pods get its
    credentials from a Secret (secretKeyRef), never from the manifest, and read and write there."""
    from tests.services import AWS_KEY_ID, AWS_SECRET

    api = FakeKubeAPI().start()
    kubelet = TestKubelet(
        api,
        NAMESPACE,
        {"s3-credentials": {"id": AWS_KEY_ID, "secret": AWS_SECRET}},
        extra_env={"PYTHONPATH": str(REPO), "DO_NOT_TRACK": "1"},
    ).start()
    for name, value in s3.env().items():  # the search's own process reads and writes the store too
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KUBECONFIG", api.kubeconfig(tmp_path / "kubeconfig"))
    try:
        fitted = search(
            tmp_path,
            n_trials=2,
            kubernetes={
                "namespace": NAMESPACE,
                "env": {"KUBETUNE_S3_ENDPOINT_URL": s3.url, "AWS_DEFAULT_REGION": "us-east-1"},
                "secretEnv": {
                    "AWS_ACCESS_KEY_ID": {"name": "s3-credentials", "key": "id"},
                    "AWS_SECRET_ACCESS_KEY": {"name": "s3-credentials", "key": "secret"},
                },
            },
            artifact_uri="s3://kubetune-artifacts/search-cv-runs",
            study_name="wine-s3",
        ).fit(*load_wine(return_X_y=True))
        assert len(job_names(api)) == 2
        # the credentials reached the pods through secretKeyRef only
        assert AWS_SECRET not in str(api.state.events)
    finally:
        kubelet.stop()
        api.stop()
    assert len(fitted.cv_results_["params"]) == 2 and fitted.best_score_ > 0.8
    keys = [
        item["Key"]
        for item in s3.client().list_objects_v2(
            Bucket="kubetune-artifacts", Prefix="search-cv-runs/"
        )["Contents"]
    ]
    assert sum(key.endswith(".out.pkl") for key in keys) == 2
    assert all("/search-cv/wine-s3/" in key for key in keys)


def test_no_cluster_or_an_unreachable_one_is_one_line_before_any_fit(tmp_path, monkeypatch):
    X, y = load_wine(return_X_y=True)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ClusterProblem) as raised:
        search(tmp_path).fit(X, y)
    assert str(raised.value) == (
        "no Kubernetes cluster to run trials on: Invalid kube-config file. No configuration found. "
        f"(KUBECONFIG {tmp_path / 'no-such-kubeconfig'}), and not in a pod"
    )
    gone = FakeKubeAPI().start()  # a kubeconfig whose API server is no longer there
    monkeypatch.setenv("KUBECONFIG", gone.kubeconfig(tmp_path / "kubeconfig"))
    gone.stop()
    gone.server.server_close()
    with pytest.raises(ClusterProblem) as raised:
        search(tmp_path).fit(X, y)
    assert str(raised.value).startswith(f"cannot reach the Kubernetes API at {gone.url}: ")
    assert not list((tmp_path / "artifacts").rglob("batch-*"))  # no batch was written
