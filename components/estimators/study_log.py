"""A finished KubetuneSearchCV recorded in MLflow as a kubetune study.

The same shape the CLI's studies have, so the MLflow UI, ``kubetune``'s meta-store filters and a user's
scripts read both alike: a parent run (role ``study``, the search's settings as params, the best
cross-validated score), a child run per candidate (role ``trial``: its parameters, ``cv_<metric>``
mean and std and one metric per fold, FAIL with the reason when its fits failed) and, after a refit, a
``refit`` run with the fitted estimator logged as a model (registered when ``registered_model`` is set).
Written once the search is over, from ``cv_results_``: the search itself stays as fast as scikit-learn's.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from kubetune.components.core import (
    FAILURE_REASON,
    REGISTERED_TAG,
    SOURCE_TAG,
    TRIAL_STATE_TAG,
    redact_url,
)
from kubetune.components.search import to_jsonable
from kubetune.components.tracking import Tracker, resolve_tracking_uri


def log_search(search: Any, X: Any, started: float) -> str:
    """Record ``search`` (fitted) under its experiment; returns the parent run's id."""
    tracker = Tracker(tracking_uri_of(search), search.experiment)
    study = search._study_name
    results = search.cv_results_
    metrics = metric_names(results)
    parent, _ = tracker.start_study_run(
        study,
        {
            "estimator": _describe(search.estimator),
            "space": json.dumps(to_jsonable(search._space), sort_keys=True),
            "n_trials": search.n_trials,
            "sampler": search.sampler_.name,
            "sampler_reason": search.sampler_.reason,
            "scoring": _describe(search.scoring) if search.scoring is not None else "default",
            "cv_splits": search.n_splits_,
            "executor": search.executor,
            "random_state": search.random_state
            if search.random_state is None or isinstance(search.random_state, int)
            else "RandomState",
            "storage": redact_url(search.storage) if search.storage else "in memory",
        },
        {SOURCE_TAG: "KubetuneSearchCV"},
    )
    runs = [
        _log_candidate(tracker, parent, study, index, params, results, metrics, search.n_splits_)
        for index, params in enumerate(results["params"])
    ]
    summary: dict[str, float] = {
        "search_seconds": time.time() - started,
        "n_candidates": len(results["params"]),
    }
    best: dict[str, float] = {}  # cv_<metric> of the chosen candidate
    if hasattr(search, "best_index_"):
        tracker.mark_best_trial(parent, runs[search.best_index_])
        best = {f"cv_{m}": float(results[f"mean_test_{m}"][search.best_index_]) for m in metrics}
        summary.update({**best, "best_trial": float(search.best_index_)})
    tracker.log_metrics(parent, summary)
    if hasattr(search, "best_estimator_") and hasattr(search.best_estimator_, "predict"):
        _log_refit(tracker, parent, study, search, X, best)
    tracker.end_run(parent)
    return parent


def tracking_uri_of(search: Any) -> str:
    """An explicit ``tracking_uri`` wins; without one, MLFLOW_TRACKING_URI, then ./mlflow.db."""
    return search.tracking_uri or resolve_tracking_uri(None)


def metric_names(results: dict[str, Any]) -> list[str]:
    """The scorers' names as cv_results_ keys them (``score`` for a single unnamed one)."""
    return [key.removeprefix("mean_test_") for key in results if key.startswith("mean_test_")]


def _log_candidate(
    tracker: Tracker,
    parent: str,
    study: str,
    index: int,
    params: dict[str, Any],
    results: dict[str, Any],
    metrics: list[str],
    n_splits: int,
) -> str:
    run = tracker.start_trial_run(parent, study, index, params, {})
    values: dict[str, float] = {"fit_seconds_mean": float(results["mean_fit_time"][index])}
    failed = False
    for metric in metrics:
        mean = float(results[f"mean_test_{metric}"][index])
        failed = failed or not np.isfinite(mean)
        if np.isfinite(mean):
            values[f"cv_{metric}"] = mean
            values[f"cv_{metric}_std"] = float(results[f"std_test_{metric}"][index])
        for split in range(n_splits):
            score = float(results[f"split{split}_test_{metric}"][index])
            if np.isfinite(score):
                values[f"{metric}_fold_{split}"] = score
    tracker.log_metrics(run, values)
    state = {TRIAL_STATE_TAG: "FAIL" if failed else "COMPLETE"}
    if failed:
        state[FAILURE_REASON] = (
            "a fit failed: scored error_score (scikit-learn's FitFailedWarning has the traceback)"
        )
    tracker.set_tags(run, state)
    tracker.end_run(run, "FAILED" if failed else "FINISHED")
    return run


def _log_refit(
    tracker: Tracker, parent: str, study: str, search: Any, X: Any, scores: dict[str, float]
) -> None:
    run = tracker.start_child_run(parent, study, "refit", "refit")
    tracker.log_params(run, search.best_params_)
    if hasattr(search, "refit_time_"):
        tracker.log_metrics(run, {"refit_seconds": float(search.refit_time_)})
    example = X.head(5) if hasattr(X, "head") else np.asarray(X)[:5]
    info = tracker.log_model(run, search.best_estimator_, example, search.registered_model)
    version = getattr(info, "registered_model_version", None)
    if search.registered_model and version is not None:
        tracker.set_tags(parent, {REGISTERED_TAG: f"{search.registered_model}/{version}"})
        tracker.describe_model_version(
            search.registered_model,
            str(version),
            f"**{type(search.estimator).__name__}** tuned by KubetuneSearchCV (study `{study}`, "
            f"{len(search.cv_results_['params'])} candidates), refitted with {search.best_params_}. "
            "Cross-validated: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()) + ".",
            study=study,
            refit_run_id=run,
            scores=scores,
        )
    tracker.end_run(run)


def _describe(value: Any) -> str:
    """An estimator or scorer as a parameter: its repr, parameters included (scikit-learn's)."""
    return " ".join(repr(value).split())
