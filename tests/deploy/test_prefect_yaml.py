"""prefect.yaml: the scheduled retrain deployment points at a real flow, with parameters that flow and
kubetune's spec accept, a cron schedule Prefect parses, and the chart's work pool and controller account."""

from __future__ import annotations

import inspect
from pathlib import Path

import yaml

from kubetune.components.spec import parse_spec

ROOT = Path(__file__).resolve().parents[2]


def deployment():
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    [retrain] = [d for d in config["deployments"] if d["name"] == "weekly-retrain"]
    return retrain


def test_entrypoint_is_the_retrain_flow_and_its_parameters_bind():
    from prefect.flows import load_flow_from_entrypoint

    retrain = deployment()
    flow = load_flow_from_entrypoint(str(ROOT / retrain["entrypoint"]))
    assert flow.name == "retrain"
    inspect.signature(flow.fn).bind(
        **retrain["parameters"]
    )  # raises on an unknown or missing parameter
    spec = parse_spec(retrain["parameters"]["spec"])
    assert spec.warm_start.mode == "same_pipeline" and spec.executor.kind == "kubernetes"
    assert retrain["parameters"]["margin"] >= 0


def test_schedule_is_a_valid_cron_and_runs_go_to_the_charts_pool_as_the_controller():
    from prefect.client.schemas.schedules import CronSchedule

    retrain = deployment()
    [schedule] = retrain["schedules"]
    CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])  # raises on a bad expression
    assert retrain["concurrency_limit"] == 1
    pool = retrain["work_pool"]
    chart_values = yaml.safe_load((ROOT / "helm" / "kubetune" / "values.yaml").read_text())
    assert pool["name"] == chart_values["prefect"]["worker"]["workPool"]
    assert pool["job_variables"]["service_account_name"] == "kubetune-controller"
    assert pool["job_variables"]["labels"]["app.kubernetes.io/name"] == "kubetune"
    # prefect-kubernetes puts job-variable env before the template's and drops the template's entries of the
    # same name: an MLFLOW_TRACKING_URI here sent every flow run to port 5000 whatever mlflow.port said
    assert "env" not in pool["job_variables"]
    assert not any(word in str(pool).upper() for word in ("PASSWORD", "SECRET_ACCESS", "TOKEN"))
