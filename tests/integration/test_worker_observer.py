"""The chart's Prefect worker observer (prefect-kubernetes' kopf operator) against the stand-in API
server, authorized by the worker's own Role from the rendered chart: with the chart's environment it
watches pods and Jobs in the release's namespace and is never refused; without the namespace setting it
watches cluster-wide, which a namespaced Role refuses (the 403 loop the chart used to produce)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.k8s.fake_api import FakeKubeAPI

NAMESPACE = "ml-platform"

OBSERVER = textwrap.dedent("""
    import time
    from prefect_kubernetes.observer import start_observer, stop_observer
    start_observer()
    time.sleep(float(__import__("sys").argv[1]))
    stop_observer()
""")


def worker_role_and_env():
    from tests.deploy.test_helm_chart import render

    objects, _ = render({})
    [role] = [
        o
        for o in objects
        if o["kind"] == "Role" and o["metadata"]["name"].endswith("prefect-worker")
    ]
    [deployment] = [
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("prefect-worker")
    ]
    env = {
        e["name"]: e["value"]
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        if "value" in e
    }
    return role["rules"], env


def observe(tmp_path, prefect_api, env_overrides, seconds=6.0):
    rules, chart_env = worker_role_and_env()
    api = FakeKubeAPI(tls=True).start()
    try:
        token = api.state.authorizer.issue_token(NAMESPACE, "worker")
        api.state.authorizer.grant_role(NAMESPACE, "worker", rules)
        kubeconfig = api.kubeconfig(tmp_path / "kubeconfig", token=token, namespace=NAMESPACE)
        observer_env = {
            k: v for k, v in chart_env.items() if k.startswith("PREFECT_INTEGRATIONS_KUBERNETES_")
        }
        env = {
            **os.environ,
            **observer_env,
            **env_overrides,
            "KUBECONFIG": kubeconfig,
            "PREFECT_API_URL": prefect_api,
            "PREFECT_HOME": str(tmp_path / "prefect"),
        }
        env = {k: v for k, v in env.items() if v is not None}
        subprocess.run(
            [sys.executable, "-c", OBSERVER, str(seconds)],
            env=env,
            timeout=120,
            capture_output=True,
            check=True,
        )
        return {(verb, resource, ns) for _, verb, resource, ns in api.state.requests}, list(
            api.state.denied
        )
    finally:
        api.stop()


def test_the_charts_worker_observer_watches_its_namespace_and_is_never_refused(
    tmp_path, prefect_api
):
    requests, denied = observe(tmp_path, prefect_api, {})
    assert {("watch", "pods", NAMESPACE), ("watch", "jobs", NAMESPACE)} <= requests, requests
    assert denied == []


def test_without_the_namespace_setting_the_observer_is_refused_cluster_wide(tmp_path, prefect_api):
    requests, denied = observe(
        tmp_path, prefect_api, {"PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES": None}
    )
    assert any("at the cluster scope" in message for message in denied), (requests, denied)
