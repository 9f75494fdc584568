"""``kubetune.tune``: the tuning job as a Python call, for notebooks and other programs.

The same path as ``kubetune tune``: the spec is read and every input check runs before Prefect starts
(a problem is a ``KubetuneError`` whose message is the CLI's one line), then the ``tune`` flow runs in
this process and its summary comes back as a ``StudyResult`` with the trials as a DataFrame.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from kubetune.components.core import KubetuneError, environment_put_back, redact_text

if TYPE_CHECKING:
    import pandas as pd

    from kubetune.components.pipeline import RefitSummary
    from kubetune.components.spec import TuneSpec

EPHEMERAL_SERVER_STARTUP_S = 120  # Prefect's default is 20 s; see patient_prefect_startup

# keyword overrides of tune(), as the CLI's flags name them, and the spec field each sets
OVERRIDES = {
    "n_trials": "search.n_trials",
    "parallelism": "search.parallelism",
    "study": "study",
    "study_name": "study",
    "seed": "search.seed",
    "timeout": "search.timeout",
    "sampler": "search.sampler",
    "experiment": "tracking.experiment",
}


class TuningFailed(KubetuneError):
    """The job ran but ended with nothing to refit (every trial failed, the cluster could not run them)."""


@dataclass(frozen=True)
class StudyResult:
    """A finished tuning job: the best configuration, its scores, where MLflow keeps it, every trial."""

    study: str
    best_params: dict[str, Any]
    best_trial: int | None
    cv: dict[str, float]  # cv_<metric>: the best trial's cross-validated scores
    test: dict[str, float]  # test_<metric>: the refit model on the held-out rows, scored once
    parent_run_id: str
    refit_run_id: str
    model_uri: str  # models:/<name>/<version>, or runs:/<refit run>/model when not registered
    run_url: str | None
    trials: pd.DataFrame = field(repr=False)  # Optuna's trials_dataframe(): one row per trial
    summary: RefitSummary = field(repr=False)
    # the analysis stage in words: held-out scores with intervals beside the defaults', significance
    analysis: tuple[str, ...] = ()


def tune(
    spec: str | os.PathLike[str] | Mapping[str, Any] | TuneSpec,
    *,
    progress: bool | None = None,
    verbose: bool = False,
    **overrides: Any,
) -> StudyResult:
    """Run a tuning job from a spec file, a spec mapping or a parsed spec.

    ``overrides`` set spec fields as the CLI's flags do (``n_trials``, ``parallelism``, ``study``,
    ``seed``, ``timeout``, ``sampler``, ``experiment``) or by dotted name
    (``**{"validation.folds": 3}``). ``progress``: a progress bar (a widget in a notebook); by default
    when stderr is a terminal or a notebook. Raises ``KubetuneError`` (one line) on bad input, before
    anything is recorded, and when the job fails.
    """
    _refuse_in_a_spawned_worker()
    quiet_defaults()
    patient_prefect_startup()
    tuning_spec = _spec(spec, _dotted(overrides))
    from kubetune.components.pipeline import preflight

    preflight(tuning_spec)
    summary = run_flow("tune", tuning_spec, _progress(progress), verbose)
    return _study_result(tuning_spec, summary)


def _refuse_in_a_spawned_worker() -> None:
    """A script that calls tune() at its top level is imported again by every worker process the job
    spawns (Python's spawn start method runs the main module as ``__mp_main__``); each would start a
    job of its own. Said in one line instead of multiprocessing's bootstrapping traceback."""
    import multiprocessing

    # the flag multiprocessing itself reads for its own bootstrapping error (spawn._main sets it)
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise KubetuneError(
            'tune: called while a worker process imported your script; put the call under if __name__ == "__main__":'
        )


def _dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    dotted = {}
    for name, value in overrides.items():
        if name in OVERRIDES:
            dotted[OVERRIDES[name]] = value
        elif "." in name:
            dotted[name] = value
        else:
            known = ", ".join(sorted(OVERRIDES))
            raise KubetuneError(
                f"tune: no override '{name}' (one of {known}, or a dotted spec field such as 'search.n_trials')"
            )
    return dotted


def _spec(spec: Any, overrides: dict[str, Any]) -> TuneSpec:
    from kubetune.components.spec import TuneSpec, apply_overrides, load_spec, parse_spec

    if isinstance(spec, TuneSpec):
        spec = spec.model_dump(mode="json", exclude_none=True)
    if isinstance(spec, Mapping):
        return parse_spec(apply_overrides(dict(spec), overrides))
    if isinstance(spec, str | os.PathLike):
        return load_spec(Path(spec), overrides)
    raise KubetuneError(
        f"tune: the spec is a path, a mapping or a TuneSpec, not {type(spec).__name__}"
    )


def _progress(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def _study_result(spec: TuneSpec, summary: RefitSummary) -> StudyResult:
    import optuna

    from kubetune.components.execution import open_storage, storage_url

    study = optuna.load_study(
        study_name=summary.study, storage=open_storage(storage_url(spec.storage.url))
    )
    model_uri = (
        f"models:/{summary.registered_model}/{summary.model_version}"
        if summary.model_version
        else f"runs:/{summary.refit_run_id}/model"
    )
    return StudyResult(
        study=summary.study,
        best_params=dict(summary.best_params),
        best_trial=summary.best_trial,
        cv=dict(summary.cv),
        test=dict(summary.test),
        parent_run_id=summary.parent_run_id,
        refit_run_id=summary.refit_run_id,
        model_uri=model_uri,
        run_url=summary.run_url,
        trials=study.trials_dataframe(),
        summary=summary,
        analysis=summary.analysis,
    )


# -- shared with the CLI ----------------------------------------------------------------------------


def quiet_defaults() -> None:
    """No phoning home, and only kubetune's own progress lines on the console (a user's env wins)."""
    import logging
    import warnings

    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # the study report reads its run's spec and finalists back: no download bars in the summary
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    kubetune_log = logging.getLogger("kubetune")
    # once per process
    if not any(getattr(h, "kubetune_console", False) for h in kubetune_log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.kubetune_console = True  # type: ignore[attr-defined]
        kubetune_log.addHandler(handler)
    kubetune_log.setLevel(logging.INFO)
    kubetune_log.propagate = False
    warnings.filterwarnings("ignore", message=".*pickle or cloudpickle format.*")
    logging.getLogger("optuna").setLevel(logging.WARNING)
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)


def patient_prefect_startup() -> None:
    """With no Prefect server configured, Prefect starts a throwaway one per run and waits 20 s for it by
    default; on a busy laptop or a 2-core CI runner its start-up alone can take longer, and the run then
    fails before any trial. Wait longer unless the user chose a value (or points at a real server); a
    value Prefect could not read is named now, not in a traceback from inside Prefect."""
    from kubetune.components.core import SettingError

    name = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    value = os.environ.setdefault(name, str(EPHEMERAL_SERVER_STARTUP_S))
    if not value.strip().isdigit() or int(value) == 0:
        raise SettingError(f"{name}: '{value}' is not a whole number of seconds above 0")


def quiet_run_output(verbose: bool) -> None:
    """Without ``-v``: Prefect's and MLflow's own lines off the console. Set before Prefect is first
    imported, which reads its logging level once."""
    if verbose:
        return
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # MLflow prints two links for every run it ends on a tracking server: 200 lines for 100 trials,
    # burying the summary; the summary names the study's own run page instead
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import optuna

    # Optuna resets its level on first import
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def warm_up(name: str, spec: Any) -> None:
    """What the flow would do first in this process anyway, done while Prefect's server starts in
    another (flows.prefect_server): import the flow, and open a local MLflow database, whose first open
    creates its tables (about a second). Both are kept for the flow: Python keeps its modules, MLflow its
    stores."""
    from kubetune.components.tracking import open_client, resolve_tracking_uri, sqlite_file

    if name == "retrain":
        import kubetune.flows.retrain
    else:
        import kubetune.flows.tune  # noqa: F401
    tracking_uri = resolve_tracking_uri(spec.tracking.mlflow_uri)
    if sqlite_file(tracking_uri) is not None:
        open_client(tracking_uri)


# what a flow run sets in this process's environment for itself: put back when it ends, so that a
# notebook's next job, or its own MLflow calls, see the environment they saw before (a second spec's
# tracking URI would otherwise lose to the first one's password-carrying URL, which wins over specs)
FLOW_ENVIRONMENT = (
    "KUBETUNE_STORAGE_URL",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT",
)


def credentials_to_environment(spec: Any) -> Any:
    """The spec without URLs that carry a password; each such URL goes to the environment variable that
    wins over the spec field anyway (KUBETUNE_STORAGE_URL, MLFLOW_TRACKING_URI). The spec becomes the
    flow run's parameters, which Prefect stores and shows in its UI: a password must not ride along.
    The flow runs in this process, and its workers inherit the environment."""
    from kubetune.components.core import redact_url

    storage, tracking = spec.storage, spec.tracking
    if storage.url and redact_url(storage.url) != storage.url:
        os.environ.setdefault("KUBETUNE_STORAGE_URL", storage.url)
        storage = storage.model_copy(update={"url": None})
    if tracking.mlflow_uri and redact_url(tracking.mlflow_uri) != tracking.mlflow_uri:
        os.environ.setdefault("MLFLOW_TRACKING_URI", tracking.mlflow_uri)
        tracking = tracking.model_copy(update={"mlflow_uri": None})
    return spec.model_copy(update={"storage": storage, "tracking": tracking})


def run_flow(
    name: str, spec: Any, progress: bool, verbose: bool, **parameters: Any
) -> RefitSummary:
    """Run the ``tune`` or ``retrain`` flow in this process; its summary, or a KubetuneError."""
    from kubetune.components.core import redact_url
    from kubetune.components.tracking import resolve_tracking_uri

    with environment_put_back(FLOW_ENVIRONMENT):
        spec = credentials_to_environment(spec)
        tracking_uri = resolve_tracking_uri(spec.tracking.mlflow_uri)
        if redact_url(tracking_uri) != tracking_uri:
            # MLflow prints its run links with the tracking URI as written, password and all (-v shows them)
            os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
        quiet_run_output(verbose)
        from prefect.states import State

        if name == "retrain":
            from kubetune.flows.retrain import retrain as flow_function
        else:
            from kubetune.flows.tune import tune as flow_function  # type: ignore[assignment]

        # a flow called with return_state=True returns its final State (Prefect's overloads do not say so)
        state = cast(
            State,
            flow_function(
                spec.model_dump(mode="json", exclude_none=True),
                progress=progress,
                return_state=True,
                **parameters,
            ),
        )
        if not state.is_completed():
            result = state.result(raise_on_failure=False) if state.is_failed() else None
            if isinstance(result, KubetuneError):
                raise result
            raise TuningFailed(redact_text(state.message or "the tuning flow did not complete"))
        return cast("RefitSummary", state.result())
