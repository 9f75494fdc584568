"""The study report step: importances and plots computed from the study, everything read back from the
study's parent run, one HTML page written and logged there (``report.html``), the PNGs under ``plots/``.

Run at the end of every tuning job, and by ``kubetune report STUDY`` for any finished study (its parent
run holds the spec; the study storage is the spec's, or KUBETUNE_STORAGE_URL).
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from kubetune.components.analysis import (
    ReportContent,
    param_importances,
    ranked_params,
    render_report,
    study_plots,
)
from kubetune.components.core import (
    ANALYSIS_SIGNIFICANCE_TAG,
    ANALYSIS_SUMMARY_TAG,
    REGISTERED_TAG,
    REPORT_ARTIFACT,
    ROLE_TAG,
    STUDY_TAG,
    SpecError,
    redact_url,
)
from kubetune.components.execution import failure_reason, journal_path, open_storage, storage_url
from kubetune.components.pipeline.analysis_step import FINALISTS_ARTIFACT
from kubetune.components.pipeline.endpoints import check_mlflow
from kubetune.components.pipeline.study_run import make_tracker
from kubetune.components.spec import TuneSpec, parse_spec
from kubetune.components.tracking import Tracker, resolve_tracking_uri, run_url, safe_uri

log = logging.getLogger("kubetune")

IMPORTANCES_ARTIFACT = "analysis/importances.json"
SPEC_ARTIFACT = "spec.yaml"
# the parent run's metrics the summary table shows, by prefix
SCORE_PREFIXES = ("cv_", "test_", "default_test_", "analysis_p_", "analysis_effect_")


@dataclass(frozen=True)
class StudyReport:
    html: str
    parent_run_id: str
    plots: list[str]  # the plots drawn, by name
    skipped_plots: dict[str, str]


def find_parent_run(tracker: Tracker, study_name: str) -> Any:
    """The study's parent run, in any experiment (a report is asked for by study name alone)."""
    experiments = [e.experiment_id for e in tracker.client.search_experiments()]
    runs = tracker.client.search_runs(
        experiments,
        filter_string=f"tags.`{STUDY_TAG}` = '{study_name}' AND tags.`{ROLE_TAG}` = 'study'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        raise SpecError(
            f"report: no study '{study_name}' in the MLflow store {safe_uri(tracker.tracking_uri)}"
        )
    return runs[0]


def write_study_report(
    tracker: Tracker, parent_run: Any, storage: str | None = None
) -> StudyReport:
    """Compute importances and plots, render the report, and log all of it on the parent run."""
    run_id = parent_run.info.run_id
    study_name = parent_run.data.tags[STUDY_TAG]
    spec_yaml = _artifact_text(tracker, run_id, SPEC_ARTIFACT) or ""
    spec = parse_spec(yaml.safe_load(spec_yaml)) if spec_yaml else None
    url = storage or storage_url(spec.storage.url if spec else None)
    missing = SpecError(
        f"report: study '{study_name}' is not in the study storage {redact_url(url)} "
        "(give --storage or KUBETUNE_STORAGE_URL)"
    )
    journal = journal_path(url)
    if journal is not None and not journal.exists():  # opening it would create an empty journal
        raise missing
    try:
        study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    except KeyError:  # Optuna's "Record does not exist."
        raise missing from None
    metrics = (
        list(spec.objective.metrics)
        if spec
        else [f"objective {i}" for i in range(len(study.directions))]
    )
    seed = spec.search.seed if spec else None
    finalists_text = _artifact_text(tracker, run_id, FINALISTS_ARTIFACT)
    finalists = json.loads(finalists_text) if finalists_text else None

    importances = param_importances(study, metrics, seed)
    plots, skipped = study_plots(study, metrics, importances, ranked_params(importances), finalists)

    run_metrics, tags = parent_run.data.metrics, parent_run.data.tags
    content = ReportContent(
        study=study_name,
        # the summary holds the held-out line and the significance; a study whose refit was reused
        # before the summary existed has only the significance
        headline=(
            tags.get(ANALYSIS_SUMMARY_TAG) or tags.get(ANALYSIS_SIGNIFICANCE_TAG) or ""
        ).splitlines()
        or ["no analysis recorded for this study"],
        scores={k: v for k, v in sorted(run_metrics.items()) if k.startswith(SCORE_PREFIXES)},
        best_params=_chosen_params(study, finalists),
        finalists=finalists,
        importances=importances,
        plots=plots,
        skipped_plots=skipped,
        spec_yaml=spec_yaml,
        provenance={
            k: v
            for k, v in sorted(tags.items())
            if k.startswith(("kubetune.version.", "mlflow.source.git", "kubetune.data_fingerprint"))
        }
        | {"parent run": run_id},
        cost=_cost(study, run_metrics),
        links=_links(tracker, parent_run),
        registered_model=tags.get(REGISTERED_TAG),
    )
    html = render_report(content)
    _log(tracker, run_id, html, importances, metrics, plots)
    return StudyReport(html, run_id, [p.name for p in plots], skipped)


def _links(tracker: Tracker, parent_run: Any) -> dict[str, str]:
    """Where to read more: the run's page when the tracking server has one (a local store has none)."""
    page = run_url(tracker.tracking_uri, parent_run.info.experiment_id, parent_run.info.run_id)
    return {"MLflow run": page} if page else {}


def _chosen_params(study: optuna.Study, finalists: dict[str, Any] | None) -> dict[str, str]:
    if finalists:
        chosen = next((f for f in finalists["finalists"] if f["chosen"]), None)
        if chosen:
            return {k: str(v) for k, v in chosen["params"].items()}
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    if len(study.directions) == 1 and complete:
        return {k: str(v) for k, v in study.best_trial.params.items()}
    return {}


def _cost(study: optuna.Study, run_metrics: dict[str, float]) -> dict[str, str]:
    states: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        states[trial.state.name.lower()] = states.get(trial.state.name.lower(), 0) + 1
    durations = [
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in study.get_trials(deepcopy=False)
        if t.datetime_complete and t.datetime_start
    ]
    cost = {"trials": ", ".join(f"{n} {s}" for s, n in sorted(states.items()))}
    if durations:
        cost["trial time (sum)"] = f"{sum(durations):.1f} s"
    if "analysis_extra_fits" in run_metrics:
        cost["analysis: extra model fits"] = f"{run_metrics['analysis_extra_fits']:.0f}"
        cost["analysis: time"] = f"{run_metrics.get('analysis_seconds', 0.0):.1f} s"
    return cost


def _log(
    tracker: Tracker,
    run_id: str,
    html: str,
    importances: dict[str, Any],
    metrics: list[str],
    plots: list[Any],
) -> None:
    values: dict[str, float] = {}
    for metric, evaluators in importances.items():
        for evaluator, shares in evaluators.items():
            if isinstance(shares, dict):
                infix = "" if len(metrics) == 1 else f"{metric}_"
                values |= {f"importance_{evaluator}_{infix}{p}": v for p, v in shares.items()}
    tracker.log_metrics(run_id, values)
    tracker.log_dict(run_id, importances, IMPORTANCES_ARTIFACT)
    for plot in plots:
        if plot.png:
            tracker.log_image(run_id, plot.png, f"plots/{plot.name}.png")
    tracker.log_text(run_id, html, REPORT_ARTIFACT)


def _artifact_text(tracker: Tracker, run_id: str, path: str) -> str | None:
    with tempfile.TemporaryDirectory() as folder:
        try:
            local = tracker.client.download_artifacts(run_id, path, folder)
        except Exception:  # noqa: BLE001 - MLflow raises several types for "no such artifact"
            return None
        return Path(local).read_text()


def report_finished_study(spec: TuneSpec, parent_run_id: str) -> StudyReport | None:
    """The tuning job's last step. The model is registered by now: a report that cannot be drawn (a
    plotting library's error on an odd study) is a warning, never a failed job."""
    tracker = make_tracker(spec)
    try:
        return write_study_report(
            tracker, tracker.client.get_run(parent_run_id), storage_url(spec.storage.url)
        )
    except Exception as error:  # noqa: BLE001 - see above
        log.warning("study %s: no report: %s", spec.study_name, failure_reason(error))
        return None


def report_study(
    study_name: str, tracking_uri: str | None, storage: str | None, output: Path
) -> StudyReport:
    """``kubetune report STUDY``: the report of a finished study, written to ``output`` and logged."""
    # the flag wins over MLFLOW_TRACKING_URI (a spec's URI is what the environment overrides)
    uri = tracking_uri or resolve_tracking_uri(None)
    check_mlflow(
        uri
    )  # a server that does not answer is one line, not MLflow's retries and traceback
    local = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None
    if local is not None and not Path(local).exists():  # opening it would create an empty store
        raise SpecError(
            f"report: no MLflow store at {local} (run it where the study ran, or give --tracking-uri)"
        )
    tracker = Tracker(uri, experiment=study_name)
    report = write_study_report(tracker, find_parent_run(tracker, study_name), storage)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.html, encoding="utf-8")
    return report
