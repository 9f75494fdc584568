"""Against a real cluster, when one is configured (KUBECONFIG set); skipped otherwise.

The API server itself checks a rendered Job (server-side dry run: schema, admission, quota), and an
access review confirms the current identity holds exactly what the controller needs.
"""

import os

import pytest

pytestmark = pytest.mark.skipif(
    not os.environ.get("KUBECONFIG"), reason="no real cluster: KUBECONFIG is not set"
)


def test_rendered_job_is_accepted_by_a_real_api_server():
    from kubernetes import client, config

    from kubetune.components.core import TrialRequest
    from kubetune.components.execution import render_job
    from kubetune.components.spec import KubernetesSpec

    config.load_kube_config()
    namespace = os.environ.get("KUBETUNE_TEST_NAMESPACE", "default")
    request = TrialRequest(
        study_name="real-cluster-check",
        trial_number=0,
        params={"x": 1},
        family="knn",
        task="classification",
        n_classes=2,
        data_uri="s3://bucket/train.parquet",
        target="target",
        metrics=["accuracy"],
        validation="kfold",
        folds=2,
        val_size=0.2,
        seed=0,
    )
    job = render_job(KubernetesSpec(namespace=namespace, secretEnv={}), request, trial_timeout=60)
    created = client.BatchV1Api().create_namespaced_job(
        namespace, job, dry_run="All", _request_timeout=20
    )
    assert created.metadata.name == job["metadata"]["name"]
    review = client.AuthorizationV1Api().create_self_subject_access_review(
        {
            "spec": {
                "resourceAttributes": {
                    "namespace": namespace,
                    "group": "batch",
                    "resource": "jobs",
                    "verb": "create",
                }
            }
        }
    )
    assert review.status.allowed
