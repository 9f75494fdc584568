"""The ``tune`` flow: spec -> data -> held-out split -> space -> warm start -> trials -> refit -> held-out test -> MLflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import flow
from prefect.states import Failed

from kubetune.components import pipeline
from kubetune.components.pipeline import PreparedData, RefitSummary
from kubetune.components.spec import TuneSpec, parse_spec
from kubetune.flows import tasks


@dataclass
class TuningOutcome:
    prepared: PreparedData
    result: RefitSummary | None  # None when no trial completed
    failed: Any = None  # a Failed state saying why, when nothing could be refit


def tune_steps(tuning_spec: TuneSpec, progress: bool) -> TuningOutcome:
    """The tuning job's tasks in order; shared by the ``tune`` and ``retrain`` flows."""
    # local workers import while the data is prepared; the finalists reuse them (None on Kubernetes)
    with pipeline.local_workers(tuning_spec) as workers:
        # load, check, fingerprint, split off held-out test
        prepared = tasks.prepare_data(tuning_spec)
        space = tasks.build_space(tuning_spec, prepared)
        parent_run_id, resumed = tasks.start_study_run(tuning_spec, prepared, space)
        # past studies' best first
        warm = tasks.plan_warm_start(tuning_spec, prepared, space, parent_run_id, resumed)
        search = tasks.run_trials(
            tuning_spec, prepared, space, parent_run_id, progress, warm, workers
        )
        if search.best_number is None:
            return TuningOutcome(prepared, None, Failed(message=search.failure))
        result = tasks.refit_and_register(tuning_spec, prepared, search, parent_run_id, workers)
    tasks.report_study(
        tuning_spec, parent_run_id
    )  # importances, plots, report.html on the parent run
    return TuningOutcome(prepared, result)


@flow(name="tune", log_prints=False, validate_parameters=False)
def tune(spec: dict[str, Any], progress: bool = False) -> Any:
    """Run one tuning job described by ``spec`` (the YAML spec as a mapping)."""
    outcome = tune_steps(parse_spec(spec), progress)
    return outcome.failed if outcome.failed is not None else outcome.result
