"""The ``tune`` flow: spec -> data -> held-out split -> space -> warm start -> trials -> refit -> held-out test -> MLflow."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import Failed

from components.spec import parse_spec
from flows import tasks


@flow(name="tune", log_prints=False, validate_parameters=False)
def tune(spec: dict[str, Any], progress: bool = False) -> Any:
    """Run one tuning job described by ``spec`` (the YAML spec as a mapping)."""
    tuning_spec = parse_spec(spec)
    prepared = tasks.prepare_data(tuning_spec)  # load, check, fingerprint, split off held-out test
    space = tasks.build_space(tuning_spec, prepared)
    parent_run_id, resumed = tasks.start_study_run(tuning_spec, prepared, space)
    warm = tasks.plan_warm_start(tuning_spec, prepared, space, parent_run_id, resumed)  # past studies' best first
    search = tasks.run_trials(tuning_spec, prepared, space, parent_run_id, progress, warm)
    if search.best_number is None:
        return Failed(message=search.failure)
    return tasks.refit_and_register(tuning_spec, prepared, search, parent_run_id)
