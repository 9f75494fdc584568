"""``KubetuneSearchCV``: scikit-learn's search API with kubetune's samplers, executors and MLflow study.

Built on ``BaseSearchCV``'s ``_run_search`` template: the Optuna study asks for a batch of configurations
(as many as run at once), scikit-learn's own ``evaluate_candidates`` cross-validates them, and their mean
test scores are told back. Because scikit-learn does every fit and builds ``cv_results_``, everything a
``RandomizedSearchCV`` user relies on (``cv_results_``'s keys, ``best_*``, ``refit``, multi-metric
``scoring``, ``return_train_score``, ``error_score``, metadata routing) behaves the same; a fit that
fails scores ``error_score`` and its trial is told FAIL, so the study goes on.

Where the fits run: ``executor="local"`` uses joblib's processes (``n_jobs``); ``executor="kubernetes"``
runs each candidate's folds as one trial Job through ``kubetune.components.execution.kubernetes_backend``
(estimator and data through the artifact store). Every argument is checked in ``fit`` before anything
runs or is recorded; a problem is a ``SearchSettingError`` with one line naming the argument.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import numbers
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import optuna
from sklearn.base import is_classifier
from sklearn.metrics import get_scorer_names
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils._param_validation import Interval, StrOptions

from kubetune.components.core import SpecError
from kubetune.components.estimators.image_imports import foreign_references, image_modules
from kubetune.components.estimators.search_space import SearchSettingError, to_space
from kubetune.components.estimators.study_log import log_search, tracking_uri_of
from kubetune.components.search import (
    CostAwareSampler,
    Space,
    build_sampler,
    choose_sampler,
    effective_trials,
    grid,
    suggest,
)
from kubetune.components.spec import format_validation_error, study_name_problem

SAMPLERS = ("auto", "grid", "random", "tpe", "gp", "cmaes", "qmc")
PRUNERS = ("median", "successive_halving", "hyperband")
EXECUTORS = ("local", "kubernetes")


def _last_error_line(message: str) -> str:
    """The exception line of scikit-learn's "fits failed" report: its last ``SomeError: ...`` line
    (what follows it may be a repr of the data)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Warning): ", line)]
    return errors[-1] if errors else (lines[-1] if lines else message)


def _closest(name: str, candidates: list[str]) -> str:
    """ " (did you mean 'x'?)" for the nearest candidate, ignoring case ('c' -> 'C'), or ""."""
    lowered = {candidate.lower(): candidate for candidate in candidates}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


class KubetuneSearchCV(BaseSearchCV):
    """Search ``param_distributions`` for ``estimator`` with kubetune's samplers (``auto`` by default:
    the whole grid when it fits the budget, the Gaussian process on small all-numeric spaces, TPE
    otherwise), ``n_trials`` candidates in all.

    Parameters beyond ``RandomizedSearchCV``'s:

    - ``param_distributions``: per parameter an Optuna distribution, a kubetune space dictionary
      (``{"type": "float", "low": 1e-3, "high": 10, "log": True}``, ``when:`` for conditional ones) or
      a list of values.
    - ``sampler``: ``auto``, ``grid``, ``random``, ``tpe``, ``gp``, ``cmaes`` or ``qmc``.
    - ``timeout``: seconds after which no new candidate starts.
    - ``warm_start``: a list of configurations to evaluate first (for example a previous search's
      ``best_params_``), or True to let a second ``fit`` go on with the first one's study (as
      scikit-learn's ``warm_start`` goes on from the last fit): its sampler learns from every earlier
      trial, and ``cv_results_`` holds this fit's candidates.
    - ``executor``: ``local`` (joblib, ``n_jobs`` at a time) or ``kubernetes`` (each candidate's folds
      in one trial Job; ``kubernetes``: the Job settings of a spec's ``executor.kubernetes``;
      ``artifact_uri``: where batches and outputs travel, S3 or a folder the pods mount;
      ``n_jobs``: Jobs at a time; ``image_modules``: top-level modules the trial image adds to
      kubetune's own).
    - ``experiment``: an MLflow experiment to record the search in as a kubetune study (parent run,
      a child run per candidate, the refit model; ``registered_model`` registers it);
      ``tracking_uri`` defaults to ``MLFLOW_TRACKING_URI`` or ``./mlflow.db``.
    - ``study_name`` and ``storage`` (kubetune's study storage: ``journal:///path/studies.journal`` or
      ``postgresql://...``): a shared study that later searches with the same name go on with.
    - ``pruner`` (``median``, ``successive_halving``, ``hyperband``) with ``resource``, the estimator
      parameter that sets how long it trains (``max_iter``, ``n_estimators``, ``epochs``): each candidate
      is cross-validated at rungs of that resource, ``min_resource`` up to the estimator's own value
      by ``reduction_factor``, and stopped at the first rung where Optuna's pruner says its score is
      not promising. As in scikit-learn's ``HalvingRandomSearchCV``, each rung is a fit of its own, every
      rung is a row of ``cv_results_`` (with ``iter`` and ``n_resources``), and the best candidate is
      chosen among those that reached the full resource.

    Attributes beyond ``RandomizedSearchCV``'s: ``study_`` (the Optuna study), ``sampler_`` (the sampler
    used and why), ``failed_candidates_``, ``pruned_candidates_``, ``rungs_`` (with a pruner),
    ``parent_run_id_`` (with ``experiment``).

    A candidate whose fits fail scores ``error_score`` and its trial is told FAIL. When every fit of a
    batch failed (one candidate at a time, ``n_jobs=1``), scikit-learn keeps the batch out of
    ``cv_results_``; it is listed in ``failed_candidates_`` with the error and recorded as a failed
    trial, and the search goes on. Only a search in which no candidate could be fitted raises.
    """

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_distributions": [dict],
        "n_trials": [Interval(numbers.Integral, 1, None, closed="left")],
        "sampler": [StrOptions(set(SAMPLERS))],
        "random_state": ["random_state"],
        "timeout": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "warm_start": ["boolean", list],
        "executor": [StrOptions(set(EXECUTORS))],
        "kubernetes": [dict, None],
        "artifact_uri": [str, None],
        "image_modules": [list, tuple, None],
        "experiment": [str, None],
        "tracking_uri": [str, None],
        "registered_model": [str, None],
        "study_name": [str, None],
        "storage": [str, None],
        "pruner": [StrOptions(set(PRUNERS)), None],
        "resource": [str, None],
        "min_resource": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "reduction_factor": [Interval(numbers.Integral, 2, None, closed="left")],
    }

    def __init__(
        self,
        estimator: Any,
        param_distributions: dict[str, Any],
        *,
        n_trials: int = 10,
        sampler: str = "auto",
        scoring: Any = None,
        n_jobs: int | None = None,
        refit: Any = True,
        cv: Any = None,
        verbose: int = 0,
        pre_dispatch: Any = "2*n_jobs",
        random_state: Any = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        timeout: float | None = None,
        warm_start: bool | list[dict[str, Any]] = False,
        executor: str = "local",
        kubernetes: dict[str, Any] | None = None,
        artifact_uri: str | None = None,
        image_modules: list[str] | tuple[str, ...] | None = None,
        experiment: str | None = None,
        tracking_uri: str | None = None,
        registered_model: str | None = None,
        study_name: str | None = None,
        storage: str | None = None,
        pruner: str | None = None,
        resource: str | None = None,
        min_resource: int | None = None,
        reduction_factor: int = 3,
    ) -> None:
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.sampler = sampler
        self.random_state = random_state
        self.timeout = timeout
        self.warm_start = warm_start
        self.executor = executor
        self.kubernetes = kubernetes
        self.artifact_uri = artifact_uri
        self.image_modules = image_modules
        self.experiment = experiment
        self.tracking_uri = tracking_uri
        self.registered_model = registered_model
        self.study_name = study_name
        self.storage = storage
        self.pruner = pruner
        self.resource = resource
        self.min_resource = min_resource
        self.reduction_factor = reduction_factor
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )

    def __sklearn_tags__(self) -> Any:
        """BaseSearchCV's tags, and whether the estimator takes several targets: the search passes
        ``y`` through unchanged, so a multi-output estimator's 2-d ``y`` is no conversion to warn of."""
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = get_tags(self.estimator).target_tags.multi_output
        return tags

    # -- fit ----------------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None, **params: Any) -> KubetuneSearchCV:
        """Run the search, then refit as ``refit`` says; with ``experiment``, record it in MLflow."""
        self._check_scoring()  # before scikit-learn's own check, which lists all 60 scorer names
        self._validate_params()
        self._space = self._checked_space()
        self._check_warm_start()
        self.rungs_ = self._checked_rungs()
        kubernetes_settings = self._checked_kubernetes()
        # warm_start=True: go on with the last fit's study
        self._continued = getattr(self, "study_", None) if self.warm_start is True else None
        if self._continued is not None:
            study_name = self._continued.study_name
        else:
            study_name = self.study_name or f"search-cv-{uuid.uuid4().hex[:8]}"
        if problem := study_name_problem(study_name):
            raise SearchSettingError(f"study_name: {problem}")
        self._study_name = study_name
        if self.storage is not None:
            from kubetune.components.execution import check_storage_url

            try:
                check_storage_url(self.storage)
            except SpecError as error:
                raise SearchSettingError(str(error).replace("storage.url", "storage", 1)) from None
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self._fixed_cv = self._constant_splits(cv, X, y, params)
        self._n_splits = cv.get_n_splits(X, y, groups=params.get("groups"))
        if (
            self.experiment is not None
        ):  # a tracking server that cannot be reached: now, not after the search
            self._check_tracking()
        started = time.time()
        with self._execution(kubernetes_settings, study_name):
            super().fit(X, y, **params)
        if self.experiment is not None:
            self.parent_run_id_ = log_search(self, X, started)
        return self

    def _run_search(self, evaluate_candidates: Any, *, callback_ctx: Any = None) -> None:
        space = self._space
        self.sampler_ = choose_sampler(self.sampler, space, self.n_trials, 1)
        batch = self._batch_size()
        # the grid is enqueued point by point, in GridSearchCV's order: Optuna's GridSampler stops the
        # study from inside tell() once the grid is spent, which only works inside study.optimize
        grid_points = list(ParameterGrid(grid(space))) if self.sampler_.name == "grid" else []
        sampler = build_sampler(
            "random" if grid_points else self.sampler_.name, space, self._seed(), 1, batch
        )
        if (
            self.sampler_.fallback is not None
        ):  # auto's GP gives way to TPE when its asks cost too much
            fallback = build_sampler(self.sampler_.fallback, space, self._seed(), 1, batch)
            sampler = CostAwareSampler(
                sampler, fallback, batch, self.sampler_.name, self.sampler_.fallback
            )
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if self._continued is not None:
            study = self._continued
        else:
            from kubetune.components.execution import open_storage

            study = optuna.create_study(
                storage=open_storage(self.storage) if self.storage else None,
                study_name=self._study_name,
                sampler=sampler,
                pruner=self._pruner(),
                direction="maximize",  # scikit-learn's scorers: greater is better
                load_if_exists=self.storage is not None,
            )
        for configuration in [*self._warm_configurations(), *grid_points]:
            study.enqueue_trial(configuration, skip_if_exists=True)
        budget = effective_trials(self.sampler_.name, space, self.n_trials)
        deadline = time.monotonic() + self.timeout if self.timeout else math.inf
        self.failed_candidates_: list[dict[str, Any]] = []
        self.pruned_candidates_: list[dict[str, Any]] = []
        done = scored = 0
        while done < budget and time.monotonic() < deadline:
            trials = [study.ask() for _ in range(min(batch, budget - done))]
            candidates = [suggest(trial, space) for trial in trials]
            done += len(trials)
            started = time.perf_counter()
            scored += self._race(study, evaluate_candidates, list(zip(trials, candidates)))
            if isinstance(study.sampler, CostAwareSampler):  # a batch's candidates run side by side
                for _ in trials:
                    study.sampler.observe_trial(time.perf_counter() - started)
        self.study_ = study
        if not scored:
            reason = self.failed_candidates_[0]["error"] if self.failed_candidates_ else "none ran"
            raise ValueError(
                f"all {len(self.failed_candidates_)} candidates failed to fit; the first: {reason}"
            )

    def _race(
        self,
        study: optuna.Study,
        evaluate_candidates: Any,
        active: list[tuple[Any, dict[str, Any]]],
    ) -> int:
        """Cross-validate a batch, rung by rung when pruning; tell the study each candidate's end.
        Returns how many candidates reached cv_results_ at the full resource."""
        metric = self._refit_metric_name()
        rungs: list[int | None] = list(self.rungs_) if self.pruner else [None]
        for step, resource in enumerate(rungs):
            final = step == len(rungs) - 1
            params = [
                candidate if resource is None else {**candidate, str(self.resource): resource}
                for _, candidate in active
            ]
            more = (
                None
                if resource is None
                else {"iter": [step] * len(active), "n_resources": [resource] * len(active)}
            )
            try:
                results = evaluate_candidates(params, cv=self._fixed_cv, more_results=more)
            except ValueError as error:
                # scikit-learn refuses a call in which every fit failed; in a sequential search that
                # is one bad candidate, not a bad search: it is a failed trial and the search goes on
                if "fits failed" not in str(error):
                    raise
                reason = _last_error_line(str(error))
                for trial, candidate in active:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    self.failed_candidates_.append({"params": candidate, "error": reason})
                return 0
            going_on = []
            for (trial, candidate), score in zip(
                active, results[f"mean_test_{metric}"][-len(active) :]
            ):
                if not np.isfinite(score):  # error_score: the fit failed; the study goes on
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                elif final:
                    study.tell(trial, float(score))
                else:
                    trial.report(float(score), int(resource))  # type: ignore[arg-type]
                    if trial.should_prune():
                        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                        self.pruned_candidates_.append(
                            {"params": candidate, "resource": resource, "score": float(score)}
                        )
                    else:
                        going_on.append((trial, candidate))
            if final:  # error_score rows included: the refit decides what to make of them
                return len(active)
            active = going_on
            if not active:
                return 0
        return 0

    @staticmethod
    def _select_best_index(refit: Any, refit_metric: str, results: dict[str, Any]) -> int:
        """With a pruner, the best among the rows at the full resource (as HalvingRandomSearchCV
        chooses): a candidate's score on a short budget is no score of the model that is refitted."""
        if "n_resources" not in results:
            return int(BaseSearchCV._select_best_index(refit, refit_metric, results))
        if callable(refit):
            return int(refit(results))
        full = np.flatnonzero(results["n_resources"] == np.max(results["n_resources"]))
        scores = results[f"mean_test_{refit_metric}"][full]
        return int(full[0] if np.isnan(scores).all() else full[np.nanargmax(scores)])

    def _pruner(self) -> optuna.pruners.BasePruner:
        if self.pruner is None:
            return optuna.pruners.NopPruner()
        low, high = self.rungs_[0], self.rungs_[-1]
        if self.pruner == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
        if self.pruner == "successive_halving":
            return optuna.pruners.SuccessiveHalvingPruner(
                min_resource=low, reduction_factor=self.reduction_factor
            )
        return optuna.pruners.HyperbandPruner(
            min_resource=low, max_resource=high, reduction_factor=self.reduction_factor
        )

    # -- argument checks, all before any work -------------------------------------------------------

    def _checked_space(self) -> Space:
        space = to_space(self.param_distributions)
        valid = self.estimator.get_params(deep=True)
        for name in space:
            if name not in valid:
                raise SearchSettingError(
                    f"param_distributions.{name}: {type(self.estimator).__name__} has no parameter '{name}'"
                    + _closest(name, list(valid))
                )
        return space

    def _check_scoring(self) -> None:
        names = (
            [self.scoring]
            if isinstance(self.scoring, str)
            else list(self.scoring)
            if isinstance(self.scoring, list | tuple)
            else []
        )
        known = set(get_scorer_names())
        for name in names:
            if isinstance(name, str) and name not in known:
                raise SearchSettingError(
                    f"scoring: scikit-learn has no scorer '{name}'" + _closest(name, sorted(known))
                )

    def _checked_rungs(self) -> list[int]:
        """The resource values each candidate is scored at: min_resource, then up by reduction_factor,
        ending at the estimator's own value (the model that is refitted)."""
        if self.pruner is None:
            return []
        valid = self.estimator.get_params(deep=True)
        if not self.resource:
            raise SearchSettingError(
                f"resource: pruner='{self.pruner}' needs the estimator parameter that sets how long it trains (max_iter, n_estimators, ...)"
            )
        if self.resource not in valid:
            raise SearchSettingError(
                f"resource: {type(self.estimator).__name__} has no parameter '{self.resource}'"
                + _closest(self.resource, list(valid))
            )
        if self.resource in self._space:
            raise SearchSettingError(
                f"resource: '{self.resource}' is searched in param_distributions; the pruner sets it per rung"
            )
        high = valid[self.resource]
        if not isinstance(high, numbers.Integral) or isinstance(high, bool) or high < 2:
            raise SearchSettingError(
                f"resource: the estimator's {self.resource} is {high!r}; the pruner needs a whole number of at least 2 (the full budget)"
            )
        factor = self.reduction_factor
        low = self.min_resource or max(1, int(high) // factor**2)
        if low >= high:
            raise SearchSettingError(
                f"min_resource: {low} is not below the estimator's {self.resource} ({high})"
            )
        rungs = [int(high)]
        while rungs[0] // factor >= low:
            rungs.insert(0, rungs[0] // factor)
        if rungs[0] > low:
            rungs.insert(0, low)
        return rungs

    def _warm_configurations(self) -> list[dict[str, Any]]:
        return self.warm_start if isinstance(self.warm_start, list) else []

    def _check_warm_start(self) -> None:
        for index, configuration in enumerate(self._warm_configurations()):
            if not isinstance(configuration, dict):
                raise SearchSettingError(
                    f"warm_start[{index}]: a dict of parameter values, got {type(configuration).__name__}"
                )
            unknown = sorted(set(configuration) - set(self._space))
            if unknown:
                raise SearchSettingError(
                    f"warm_start[{index}]: '{unknown[0]}' is not a parameter of param_distributions"
                )

    def _checked_kubernetes(self) -> Any:
        if self.executor != "kubernetes":
            return None
        from pydantic import ValidationError

        from kubetune.components.data import check_access
        from kubetune.components.spec import KubernetesSpec

        if not self.artifact_uri:
            raise SearchSettingError(
                "artifact_uri: executor='kubernetes' needs a store the pods can read (s3://bucket/prefix, or a folder they mount)"
            )
        try:
            settings = KubernetesSpec.model_validate(self.kubernetes or {})
        except ValidationError as error:
            raise SearchSettingError(f"kubernetes.{format_validation_error(error)}") from None
        foreign = foreign_references(
            [self.estimator, self.scoring, self.cv],
            image_modules() | set(self.image_modules or ()),
        )
        if foreign:
            package = foreign[0].split(".")[0]
            raise SearchSettingError(
                f"estimator: the trial image {settings.image} cannot import {foreign[0]} ('{package}' is not installed there); "
                f"build an image with it and name the module in image_modules=['{package}']"
            )
        check_access(self.artifact_uri)
        return settings

    def _check_tracking(self) -> None:
        from kubetune.components.pipeline import check_mlflow

        try:
            check_mlflow(tracking_uri_of(self))
        except SpecError as error:
            raise SearchSettingError(
                str(error).replace("tracking.mlflow_uri", "tracking_uri", 1)
            ) from None

    # -- helpers ------------------------------------------------------------------------------------

    def _seed(self) -> int | None:
        state = self.random_state
        if state is None or isinstance(state, numbers.Integral):
            return None if state is None else int(state)
        return int(state.randint(0, 2**31 - 1))  # a RandomState: draw the seed from it

    def _batch_size(self) -> int:
        """Candidates asked for at once: as many as can run at once, so no worker waits for the
        sampler and the sampler sees every finished result before it proposes again."""
        from joblib import effective_n_jobs

        return max(1, effective_n_jobs(self.n_jobs))

    def _refit_metric_name(self) -> str:
        if isinstance(self.scoring, list | tuple | dict):
            return self.refit if isinstance(self.refit, str) else sorted(self.scoring)[0]
        return "score"

    @staticmethod
    def _constant_splits(cv: Any, X: Any, y: Any, params: dict[str, Any]) -> Any:
        """A splitter that shuffles without a fixed seed would give every batch other folds, and the
        sampler would compare candidates scored on different splits: such splits are drawn once."""
        if getattr(cv, "shuffle", True) and not isinstance(
            getattr(cv, "random_state", 0), numbers.Integral
        ):
            return check_cv(list(cv.split(X, y, groups=params.get("groups"))))
        return None

    @contextlib.contextmanager
    def _execution(self, settings: Any, study_name: str) -> Iterator[None]:
        if settings is None:
            yield
            return
        from joblib import parallel_config

        from kubetune.components.data import join
        from kubetune.components.execution import kubernetes_backend

        folder = re.sub(r"[^A-Za-z0-9._-]", "-", study_name)
        backend = kubernetes_backend(
            settings,
            study_name,
            join(str(self.artifact_uri), "search-cv", folder, uuid.uuid4().hex[:8]),
            parallelism=self._batch_size(),
            batch_size=self._n_splits,  # one candidate's folds per Job
        )
        # a cluster that is not configured or not reachable is one line now, before any fit
        backend.dispatcher.executor.start()
        # joblib shrinks the batches at the end of an input it reads lazily (pre_dispatch); read all of
        # it, and each batch is one candidate's folds, one Job and one pod start per candidate.
        # Set in BaseSearchCV.__init__ and put back below, so get_params() is unchanged.
        attributes: dict[str, Any] = self.__dict__
        pre_dispatch = attributes["pre_dispatch"]
        attributes["pre_dispatch"] = "all"
        try:
            with parallel_config(backend=backend, n_jobs=self._batch_size()):
                yield
        finally:
            attributes["pre_dispatch"] = pre_dispatch
            backend.close()
