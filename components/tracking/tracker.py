"""MLflow: one parent run per study, a nested child run per trial, a refit run with the model.

A thin layer over ``MlflowClient``: the constructor only stores its arguments and the client connects
on first use, so building a Tracker costs nothing and never fails. Nothing recorded here carries a
credential: URLs are redacted before they become params or tags.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kubetune.components.core import (
    BEST_TRIAL_TAG,
    DEVICE_TAG,
    FAILURE_REASON,
    PRUNED_STEP_TAG,
    REFIT_TAG,
    ROLE_TAG,
    STEP_UNIT_TAG,
    STUDY_TAG,
    TRIAL_NUMBER_TAG,
    TRIAL_STATE_TAG,
    TrialResult,
    environment_put_back,
    redact_url,
)

if TYPE_CHECKING:  # MLflow is imported on first use: a spec check never pays for it
    from mlflow import MlflowClient
    from mlflow.models.model import ModelInfo

log = logging.getLogger("kubetune.tracking")

PARENT_TAG = "mlflow.parentRunId"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
# a pruned trial was stopped early: MLflow's KILLED ("Killed" in the UI), not a green "Finished"
_RUN_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}
# the experiment kind MLflow 3's UI reads: without it a new experiment opens in the GenAI view
# (traces, judges, prompts) instead of the runs and models a tuning study has
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
# the run page's description (Markdown), MLflow's own tag for it
DESCRIPTION_TAG = "mlflow.note.content"


def _now_ms() -> int:
    return int(time.time() * 1000)


def param_value(value: Any) -> str:
    return str(value)[:6000]


class Tracker:
    def __init__(self, tracking_uri: str, experiment: str) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment

    @cached_property
    def client(self) -> MlflowClient:
        from kubetune.components.tracking.local_store import open_client

        return open_client(self.tracking_uri)

    @cached_property
    def experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            if EXPERIMENT_KIND_TAG not in found.tags:  # an experiment made before, or by hand
                self.client.set_experiment_tag(
                    found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
                )
            return found.experiment_id
        return self.client.create_experiment(
            self.experiment, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
        )

    # -- study (parent) run -------------------------------------------------------------------------

    def find_study_run(self, study_name: str) -> Any | None:
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{STUDY_TAG}` = '{study_name}' AND tags.`{ROLE_TAG}` = 'study'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return runs[0] if runs else None

    def start_study_run(
        self, study_name: str, params: dict[str, Any], tags: dict[str, str]
    ) -> tuple[str, bool]:
        """The study's parent run: reused when the same study is resumed. Returns (run id, resumed)."""
        existing = self.find_study_run(study_name)
        # resumed: running again, and no longer failed for an earlier reason
        if existing is not None:
            self.client.update_run(existing.info.run_id, status="RUNNING")
            if FAILURE_REASON in existing.data.tags:
                self.client.delete_tag(existing.info.run_id, FAILURE_REASON)
            return existing.info.run_id, True
        run = self.client.create_run(
            self.experiment_id,
            run_name=study_name,
            tags={STUDY_TAG: study_name, ROLE_TAG: "study", **tags},
        )
        self.log_params(run.info.run_id, params)
        return run.info.run_id, False

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, param_value(v)) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = _now_ms()
        items = [Metric(k, float(v), now, step) for k, v in metrics.items()]
        if items:
            self.client.log_batch(run_id, metrics=items)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        if tags:
            self.client.log_batch(run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self.client.log_text(run_id, text, path)

    def log_dict(self, run_id: str, value: Any, path: str) -> None:
        self.client.log_text(run_id, json.dumps(value, indent=2, sort_keys=True, default=str), path)

    def log_table(self, run_id: str, rows: list[dict[str, Any]], path: str) -> None:
        """Rows as an MLflow table artifact (shown, and comparable across runs, in the UI's artifact view).
        Written again, the table is replaced: MLflow's log_table appends to an existing one, and a
        resumed study's Pareto front would list every trial of its first run twice."""
        import posixpath

        import pandas as pd

        frame = pd.DataFrame(rows)
        folder = posixpath.dirname(path) or None
        if any(f.path == path for f in self.client.list_artifacts(run_id, folder)):
            self.client.log_text(
                run_id, frame.to_json(orient="split", index=False, date_format="iso"), path
            )
        else:  # the first time through MLflow, which also marks it a table for the UI
            self.client.log_table(run_id, data=frame, artifact_file=path)

    def log_image(self, run_id: str, png: bytes, path: str) -> None:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / Path(path).name
            local.write_bytes(png)
            self.client.log_artifact(
                run_id,
                str(local),
                str(Path(path).parent) if Path(path).parent != Path(".") else None,
            )

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    # -- trial (child) runs -------------------------------------------------------------------------

    def start_trial_run(
        self,
        parent_run_id: str,
        study_name: str,
        trial_number: int,
        params: dict[str, Any],
        tags: dict[str, str],
    ) -> str:
        from mlflow.entities import Param

        run = self.client.create_run(
            self.experiment_id,
            run_name=f"trial-{trial_number:04d}",
            tags={
                PARENT_TAG: parent_run_id,
                STUDY_TAG: study_name,
                ROLE_TAG: "trial",
                TRIAL_NUMBER_TAG: str(trial_number),
                TRIAL_STATE_TAG: "RUNNING",
                **tags,
            },
        )
        if params:
            self.client.log_batch(
                run.info.run_id, params=[Param(k, param_value(v)) for k, v in params.items()]
            )
        return run.info.run_id

    def finish_trial_run(self, run_id: str, result: TrialResult, metric_names: list[str]) -> None:
        """Per-fold, mean and std scores, duration, peak memory, state and failure reason, in one batch."""
        from mlflow.entities import Metric, RunTag

        now = _now_ms()
        metrics = [Metric("duration_s", result.duration_s, now, 0)]
        if result.peak_memory_mb is not None:
            metrics.append(Metric("peak_memory_mb", result.peak_memory_mb, now, 0))
        if result.fit_seconds_mean is not None:
            metrics.append(Metric("fit_seconds_mean", result.fit_seconds_mean, now, 0))
        # what the trial cost on a GPU: its share of the device's time, and the memory it (or its
        # fused group) held at most
        for field in ("gpu_seconds", "peak_gpu_memory_mb"):
            value = getattr(result, field)
            if value is not None:
                metrics.append(Metric(field, value, now, 0))
        for name in metric_names:
            folds = result.fold_scores.get(name) or []
            for index, score in enumerate(folds):
                metrics.append(Metric(f"{name}_fold_{index}", score, now, 0))
            if folds:
                mean = sum(folds) / len(folds)
                std = (sum((s - mean) ** 2 for s in folds) / len(folds)) ** 0.5
                metrics += [Metric(name, mean, now, 0), Metric(f"{name}_std", std, now, 0)]
                # the name the study's, the finalists' and the refit's runs use: one column compares them
                metrics.append(Metric(f"cv_{name}", mean, now, 0))
        if result.state == "PRUNED" and result.values and metric_names:
            # the score it had reached when it was stopped: not a cross-validated score, so named apart
            metrics.append(Metric(f"{metric_names[0]}_when_pruned", result.values[0], now, 0))
        tags = [RunTag(TRIAL_STATE_TAG, result.state)]
        if result.device:
            tags.append(RunTag(DEVICE_TAG, result.device))
        if result.error:
            tags.append(RunTag(FAILURE_REASON, result.error[:5000]))
        # the learning curve as metric history: a chart in the MLflow UI
        if result.curve and metric_names:
            metrics += [
                Metric(f"{metric_names[0]}_curve", value, now, step) for step, value in result.curve
            ]
        if result.step_unit:
            tags.append(RunTag(STEP_UNIT_TAG, result.step_unit))
        if result.pruned_at_step is not None:
            metrics.append(Metric("pruned_at_step", result.pruned_at_step, now, 0))
            tags.append(RunTag(PRUNED_STEP_TAG, str(result.pruned_at_step)))
        for start in range(0, len(metrics), 900):  # MLflow takes at most 1,000 metrics per batch
            self.client.log_batch(
                run_id, metrics=metrics[start : start + 900], tags=tags if start == 0 else []
            )
        if result.traceback:
            self.log_text(run_id, result.traceback, "error.txt")
        self.client.set_terminated(run_id, status=_RUN_STATUS[result.state])

    def describe_run(self, run_id: str, markdown: str) -> None:
        """The run page's description (MLflow shows it above the run's details)."""
        self.set_tags(run_id, {DESCRIPTION_TAG: markdown})

    def find_trial_run(self, study_name: str, trial_number: int) -> str | None:
        """The run of a trial whose run id never reached the study (its controller died right after
        starting the run), so that it can still be closed instead of staying RUNNING forever."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{STUDY_TAG}` = '{study_name}' AND tags.`{ROLE_TAG}` = 'trial' AND tags.`{TRIAL_NUMBER_TAG}` = '{trial_number}'",
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def log_study_cost(self, parent_run_id: str) -> dict[str, float]:
        """What the study's trials cost, summed over their runs (every session's) onto the parent run:
        ``gpu_hours``, each trial's share of the GPU it ran on (trials packed on one GPU split its
        time), and ``trial_hours``, the trials' own wall times added up."""
        runs = [r for r in self.trial_runs(parent_run_id) if r.data.tags.get(ROLE_TAG) == "trial"]
        cost = {
            "gpu_hours": sum(r.data.metrics.get("gpu_seconds", 0.0) for r in runs) / 3600,
            "trial_hours": sum(r.data.metrics.get("duration_s", 0.0) for r in runs) / 3600,
        }
        self.log_metrics(parent_run_id, cost)
        return cost

    def trial_runs(self, parent_run_id: str) -> list[Any]:
        return self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'",
            max_results=50_000,
        )

    def mark_best_trial(self, parent_run_id: str, run_id: str) -> None:
        """Tag the run of the trial the refit used (``kubetune.best_trial``), so the UI can filter on
        it; a resumed study whose best changed moves the tag."""
        earlier = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}' AND tags.`{BEST_TRIAL_TAG}` = 'true'",
        )
        for run in earlier:
            if run.info.run_id != run_id:
                self.client.delete_tag(run.info.run_id, BEST_TRIAL_TAG)
        self.client.set_tag(run_id, BEST_TRIAL_TAG, "true")

    # -- refit run and model ------------------------------------------------------------------------

    def describe_model_version(
        self,
        name: str,
        version: str,
        description: str,
        study: str,
        refit_run_id: str,
        scores: dict[str, float],
        tags: dict[str, str] | None = None,
    ) -> None:
        """What the registry page shows of a version: a description, and tags to filter on -- the
        study, the run that trained it, each score as ``kubetune.<name>`` (``kubetune.test_roc_auc``)."""
        self.client.update_model_version(name, version, description=description)
        all_tags = {
            STUDY_TAG: study,
            REFIT_TAG: refit_run_id,
            **{f"kubetune.{key}": f"{value:.6g}" for key, value in scores.items()},
            **(tags or {}),
        }
        for key, value in all_tags.items():
            self.client.set_model_version_tag(name, version, key, value)

    def start_child_run(self, parent_run_id: str, study_name: str, name: str, role: str) -> str:
        run = self.client.create_run(
            self.experiment_id,
            run_name=name,
            tags={PARENT_TAG: parent_run_id, STUDY_TAG: study_name, ROLE_TAG: role},
        )
        return run.info.run_id

    def log_model(
        self, run_id: str, model: Any, input_example: Any, registered_name: str | None
    ) -> ModelInfo:
        """Log the fitted pipeline with its signature, an input example and pinned pip requirements
        (kubetune.components.tracking.model_requirements: read from the pickle, not inferred in a subprocess); register
        it if named."""
        import warnings

        import mlflow
        from mlflow.models import infer_signature

        from kubetune.components.tracking.model_requirements import model_requirements

        # The estimator is cloudpickled (the torch family is no skops-trusted type); MLflow warns each time.
        logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
        with (
            fluent_uris(self.tracking_uri),
            mlflow.start_run(run_id=run_id),
            warnings.catch_warnings(),
        ):
            # MLflow's multi-line hint on integer columns: said in one line below
            warnings.simplefilter("ignore")
            signature = infer_signature(input_example, model.predict(input_example))
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=input_example,
                registered_model_name=registered_name,
                serialization_format="cloudpickle",
                pip_requirements=model_requirements(model),
            )
        integers = integer_columns(input_example)
        if integers:
            log.info(
                "model signature: integer column(s) %s typed long; MLflow refuses a scoring request with a missing value in them",
                integers,
            )
        return info


MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@contextlib.contextmanager
def fluent_uris(uri: str) -> Iterator[None]:
    """MLflow's fluent API (log_model) reads process-wide URIs, and ``set_tracking_uri`` exports them as
    MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI, which win over later settings: set them for the call and
    put them back, so that a notebook's next search or job records where it was told to."""
    import mlflow

    with mlflow_uris_put_back():
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        yield


@contextlib.contextmanager
def mlflow_uris_put_back() -> Iterator[None]:
    """MLflow's process-wide tracking and registry URIs, its own copy and the environment's, back to
    what they were when the block began, however the block changed them."""
    saved = {name: os.environ.get(name) for name in MLFLOW_URI_VARIABLES}
    with environment_put_back(MLFLOW_URI_VARIABLES):
        try:
            yield
        finally:
            # MLflow's own copy: none to put back before MLflow is imported (it then reads the environment)
            if (mlflow := sys.modules.get("mlflow")) is not None:
                mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])
                mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])


def integer_columns(frame: Any, shown: int = 6) -> str:
    """The input example's integer columns, as the signature log line names them ("" for none)."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        return ""
    names = [
        str(name) for name, dtype in frame.dtypes.items() if pd.api.types.is_integer_dtype(dtype)
    ]
    return ", ".join(names[:shown]) + (
        f" and {len(names) - shown} more" if len(names) > shown else ""
    )


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str | None:
    """The run's page in the MLflow UI, for a tracking server (None for a local store, which has no UI
    address); without the URI's user and password, which a printed link must not carry. MLflow 3's UI
    shows a run in its GenAI layout (traces, judges, prompts) unless the link asks for model training:
    a global switch, stored per browser, that only ``workflowType`` in the link overrides."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(tracking_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"


def resolve_tracking_uri(spec_uri: str | None) -> str:
    """MLFLOW_TRACKING_URI wins over the spec; the embedded default is a local SQLite file."""
    import os

    return os.environ.get("MLFLOW_TRACKING_URI") or spec_uri or DEFAULT_TRACKING_URI


def safe_uri(uri: str) -> str:
    return redact_url(uri)
