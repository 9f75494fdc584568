"""KubetuneSearchCV as a scikit-learn user meets it: the estimator checks, cv_results_ against
RandomizedSearchCV's key by key, clone / pickle / nested CV, spaces (conditional ones included), fits
that fail, bad arguments (one line, nothing recorded) and the study it records in MLflow."""

from __future__ import annotations

import os
import pickle
import warnings

import mlflow
import numpy as np
import optuna
import pytest
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, RandomizedSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from kubetune import KubetuneSearchCV
from kubetune.components.estimators import SearchSettingError, foreign_references, image_modules

LOG_C = {"type": "float", "low": 1e-3, "high": 100, "log": True}
LOG_ALPHA = {"type": "float", "low": 1e-2, "high": 10, "log": True}


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return X[::2], y[::2]  # 285 rows: quick fits, still two classes in every fold


# scikit-learn's own checks; the 42 it skips check array-API inputs, which need array_api_strict,
# cupy or dpnp (none installed, and the wrapped estimators do not declare array-API support)
@parametrize_with_checks(
    [
        KubetuneSearchCV(LogisticRegression(), {"C": LOG_C}, n_trials=2, cv=2),
        KubetuneSearchCV(Ridge(), {"alpha": LOG_ALPHA}, n_trials=2, cv=2, sampler="random"),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


@pytest.mark.parametrize(
    "scoring, refit, train",
    [(None, True, False), (["roc_auc", "accuracy"], "roc_auc", True), ("f1", False, True)],
)
def test_cv_results_have_randomized_search_cvs_keys_and_shapes(cancer, scoring, refit, train):
    X, y = cancer
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    common = dict(scoring=scoring, refit=refit, return_train_score=train, cv=3)
    ours = KubetuneSearchCV(
        pipe, {"logisticregression__C": LOG_C}, n_trials=6, random_state=0, **common
    ).fit(X, y)
    theirs = RandomizedSearchCV(
        pipe, {"logisticregression__C": loguniform(1e-3, 100)}, n_iter=6, random_state=0, **common
    ).fit(X, y)
    assert list(ours.cv_results_) == list(theirs.cv_results_)
    for key, value in theirs.cv_results_.items():
        assert np.shape(ours.cv_results_[key]) == np.shape(value), key
        assert type(ours.cv_results_[key]) is type(value), key
    for name in ("multimetric_", "n_splits_", "scorer_"):
        assert (getattr(ours, name) == getattr(theirs, name)) or name == "scorer_", name
    assert hasattr(ours, "best_estimator_") == hasattr(theirs, "best_estimator_")
    if refit:
        assert ours.best_score_ == pytest.approx(
            max(
                ours.cv_results_[
                    f"mean_test_{ours.refit if isinstance(ours.refit, str) else 'score'}"
                ]
            )
        )
        assert ours.predict(X[:5]).shape == (5,)
    # every candidate is a trial of the study, told its mean test score
    values = [t.value for t in ours.study_.trials]
    metric = refit if isinstance(refit, str) else "score"
    assert values == pytest.approx(list(ours.cv_results_[f"mean_test_{metric}"]))


def test_clone_pickle_params_and_nested_cross_validation(cancer):
    X, y = cancer
    search = KubetuneSearchCV(
        LogisticRegression(max_iter=300), {"C": LOG_C}, n_trials=3, cv=2, random_state=1
    )
    copy = clone(search)
    assert copy.get_params()["n_trials"] == 3 and copy is not search
    copy.set_params(n_trials=4, estimator__max_iter=400)
    assert copy.n_trials == 4 and copy.estimator.max_iter == 400
    fitted = pickle.loads(pickle.dumps(search.fit(X, y)))
    assert fitted.best_params_ == search.best_params_
    np.testing.assert_array_equal(fitted.predict(X), search.predict(X))
    outer = cross_val_score(search, X, y, cv=2)
    assert outer.shape == (2,) and np.all((outer > 0.8) & (outer <= 1))


def test_sampler_auto_and_the_same_seed_gives_the_same_search(cancer):
    X, y = cancer
    grid = KubetuneSearchCV(
        LogisticRegression(max_iter=300), {"C": [0.01, 0.1, 1.0]}, n_trials=10, cv=2
    ).fit(X, y)
    # auto: the whole grid fits the budget, so the grid runs once, not 10 trials
    assert grid.sampler_.name == "grid" and len(grid.cv_results_["params"]) == 3
    runs = [
        KubetuneSearchCV(
            LogisticRegression(max_iter=300), {"C": LOG_C}, n_trials=5, cv=2, random_state=7
        ).fit(X, y)
        for _ in range(2)
    ]
    assert runs[0].sampler_.name == "gp"
    assert runs[0].cv_results_["params"] == runs[1].cv_results_["params"]


def test_conditional_space_with_when_and_optuna_distributions(cancer):
    X, y = cancer
    space = {
        "kernel": ["linear", "rbf"],
        "gamma": {
            "type": "float",
            "low": 1e-4,
            "high": 1e-1,
            "log": True,
            "when": {"kernel": "rbf"},
        },
        "C": optuna.distributions.FloatDistribution(0.1, 10, log=True),
    }
    search = KubetuneSearchCV(
        make_pipeline(StandardScaler(), SVC()),
        {f"svc__{k}": v for k, v in space.items()}
        | {"svc__gamma": space["gamma"] | {"when": {"svc__kernel": "rbf"}}},
        n_trials=8,
        cv=2,
        random_state=3,
    ).fit(X, y)
    assert search.sampler_.name == "tpe"  # conditional spaces: TPE
    for params in search.cv_results_["params"]:
        assert ("svc__gamma" in params) == (params["svc__kernel"] == "rbf")
        assert 0.1 <= params["svc__C"] <= 10
    gammas = search.cv_results_["param_svc__gamma"]
    kernels = search.cv_results_["param_svc__kernel"]
    assert list(np.ma.getmaskarray(gammas)) == [k == "linear" for k in kernels]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_failing_fits_are_failed_trials_and_the_search_goes_on(cancer, n_jobs):
    X, y = cancer
    # liblinear and saga take l1; lbfgs raises on it: those candidates fail, the others are scored
    search = KubetuneSearchCV(
        LogisticRegression(max_iter=300, penalty="l1"),
        {"solver": ["lbfgs", "liblinear", "saga"], "C": [0.1, 1.0]},
        n_trials=6,
        cv=2,
        n_jobs=n_jobs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    assert search.sampler_.name == "grid"
    states = {(t.params["solver"], t.params["C"]): t.state for t in search.study_.trials}
    failed = {key for key, state in states.items() if state == optuna.trial.TrialState.FAIL}
    assert failed == {("lbfgs", 0.1), ("lbfgs", 1.0)} and len(states) == 6
    assert search.best_params_["solver"] != "lbfgs"
    scores = search.cv_results_["mean_test_score"]
    if (
        n_jobs == 1
    ):  # one candidate per batch: scikit-learn keeps an all-failed batch out of cv_results_
        assert len(scores) == 4 and not np.isnan(scores).any()
        assert [f["params"]["solver"] for f in search.failed_candidates_] == ["lbfgs", "lbfgs"]
        assert (
            "Solver lbfgs supports only 'l2' or None penalties"
            in search.failed_candidates_[0]["error"]
        )
    else:  # scored error_score beside the others, as RandomizedSearchCV does
        assert len(scores) == 6 and np.isnan(scores).sum() == 2


def test_a_search_where_nothing_fits_says_so_in_one_line(cancer):
    search = KubetuneSearchCV(
        LogisticRegression(penalty="l1"), {"solver": ["lbfgs", "newton-cg"]}, n_trials=2, cv=2
    )
    with warnings.catch_warnings(), pytest.raises(ValueError) as raised:
        warnings.simplefilter("ignore")
        search.fit(*cancer)
    assert str(raised.value).startswith(
        "all 2 candidates failed to fit; the first: ValueError: Solver"
    )


def test_warm_start_configurations_come_first_and_true_goes_on_with_the_study(cancer):
    X, y = cancer
    search = KubetuneSearchCV(
        LogisticRegression(max_iter=300),
        {"C": LOG_C},
        n_trials=3,
        cv=2,
        warm_start=[{"C": 0.5}],
        random_state=0,
    ).fit(X, y)
    assert search.cv_results_["params"][0] == {"C": 0.5}
    going_on = KubetuneSearchCV(
        LogisticRegression(max_iter=300), {"C": LOG_C}, n_trials=2, cv=2, warm_start=True
    )
    going_on.fit(X, y)
    first = going_on.study_
    going_on.fit(X, y)
    assert going_on.study_ is first and len(first.trials) == 4
    assert len(going_on.cv_results_["params"]) == 2


def test_shuffled_splits_without_a_seed_are_drawn_once(cancer):
    """Each batch of candidates is a separate evaluate_candidates call; a shuffling splitter without a
    seed would score them on different folds, and the sampler would compare apples with pears."""
    X, y = cancer
    search = KubetuneSearchCV(
        LogisticRegression(max_iter=300),
        {"C": [1.0]},
        n_trials=3,
        sampler="random",
        cv=KFold(3, shuffle=True),
    ).fit(X, y)
    fold_scores = [search.cv_results_[f"split{k}_test_score"] for k in range(3)]
    # the same C on the same folds: identical scores in every batch
    for scores in fold_scores:
        assert len(set(np.round(scores, 12))) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"param_distributions": {}}, "param_distributions: the search space is empty"),
        (
            {"scoring": "roc_acu"},
            "scoring: scikit-learn has no scorer 'roc_acu' (did you mean 'roc_auc'?)",
        ),
        (
            {"param_distributions": {"c": LOG_C}},
            "param_distributions.c: LogisticRegression has no parameter 'c' (did you mean 'C'?)",
        ),
        (
            {"param_distributions": {"C": {"type": "float", "low": 10, "high": 1}}},
            "param_distributions.C: low (10) is greater than high (1)",
        ),
        (
            {
                "param_distributions": {
                    "C": LOG_C,
                    "tol": {"type": "float", "low": 1e-5, "high": 1e-3, "when": {"penalty": "l1"}},
                }
            },
            "param_distributions.tol.when: 'penalty' is not a parameter of the space",
        ),
        (
            {"warm_start": [{"alpha": 1}]},
            "warm_start[0]: 'alpha' is not a parameter of param_distributions",
        ),
        (
            {"executor": "kubernetes"},
            "artifact_uri: executor='kubernetes' needs a store the pods can read",
        ),
        ({"study_name": "no spaces"}, "study_name: 'no spaces' must be"),
        # checked before the search, not found out when it is recorded at the end
        (
            {"tracking_uri": "http://127.0.0.1:9"},
            "tracking_uri: cannot reach the MLflow server at http://127.0.0.1:9: ConnectionError",
        ),
    ],
)
def test_bad_arguments_are_one_line_and_nothing_is_recorded(cancer, tmp_path, kwargs, message):
    X, y = cancer
    arguments = {
        "param_distributions": {"C": LOG_C},
        "n_trials": 2,
        "experiment": "bad-arguments",
        "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
    } | kwargs
    search = KubetuneSearchCV(LogisticRegression(), **arguments)
    with pytest.raises(SearchSettingError) as raised:
        search.fit(*cancer)
    text = str(raised.value)
    assert text.startswith(message) and "\n" not in text
    assert isinstance(raised.value, ValueError)
    assert not (tmp_path / "mlflow.db").exists()  # no store, no run: nothing recorded
    assert not hasattr(search, "cv_results_")


def test_a_class_the_trial_image_cannot_import_is_named():
    import tests.families

    class Local(
        LogisticRegression
    ):  # defined here, travels by reference to tests.*: not in the image
        pass

    modules = image_modules()
    assert {"sklearn", "numpy", "torch", "kubetune"} <= modules and "tests" not in modules
    assert (
        foreign_references([make_pipeline(StandardScaler(), LogisticRegression())], modules) == []
    )
    found = foreign_references([make_pipeline(StandardScaler(), Local())], modules)
    assert found == [
        f"{__name__}.test_a_class_the_trial_image_cannot_import_is_named.<locals>.Local"
    ]
    # a module the user's image adds is named in image_modules
    assert foreign_references([tests.families.SleepFamily], modules) == [
        "tests.families.SleepFamily"
    ]
    assert foreign_references([tests.families.SleepFamily], modules | {"tests"}) == []


def test_the_search_is_recorded_in_mlflow_as_a_study(tmp_path):
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    search = KubetuneSearchCV(
        make_pipeline(StandardScaler(), Ridge()),
        {"ridge__alpha": LOG_ALPHA},
        n_trials=4,
        cv=3,
        scoring="neg_mean_absolute_error",
        random_state=0,
        experiment="diabetes-ridge",
        tracking_uri=uri,
        registered_model="diabetes-ridge",
        study_name="ridge-search",
    ).fit(X, y)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name("diabetes-ridge")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    by_role: dict[str, list] = {}
    for run in runs:
        by_role.setdefault(run.data.tags.get("kubetune.role"), []).append(run)
    (parent,) = by_role["study"]
    assert parent.info.run_id == search.parent_run_id_ and parent.info.status == "FINISHED"
    assert parent.data.tags["kubetune.source"] == "KubetuneSearchCV"
    assert parent.data.params["sampler"] == "gp" and parent.data.params["cv_splits"] == "3"
    assert parent.data.metrics["cv_score"] == pytest.approx(search.best_score_)
    trials = sorted(by_role["trial"], key=lambda r: int(r.data.tags["kubetune.trial_number"]))
    assert len(trials) == 4
    for index, run in enumerate(trials):
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["kubetune.trial_state"] == "COMPLETE"
        assert float(run.data.params["ridge__alpha"]) == pytest.approx(
            search.cv_results_["params"][index]["ridge__alpha"]
        )
        assert run.data.metrics["cv_score"] == pytest.approx(
            search.cv_results_["mean_test_score"][index]
        )
        assert run.data.metrics["score_fold_2"] == pytest.approx(
            search.cv_results_["split2_test_score"][index]
        )
    (refit,) = by_role["refit"]
    assert float(refit.data.params["ridge__alpha"]) == pytest.approx(
        search.best_params_["ridge__alpha"]
    )
    [version] = client.search_model_versions("name = 'diabetes-ridge'")
    best = [r for r in trials if r.data.tags.get("kubetune.best_trial") == "true"]
    assert [int(r.data.tags["kubetune.trial_number"]) for r in best] == [search.best_index_]
    assert version.tags["kubetune.study"] == "ridge-search"
    assert float(version.tags["kubetune.cv_score"]) == pytest.approx(search.best_score_, rel=1e-5)
    assert version.description.startswith(
        "**Pipeline** tuned by KubetuneSearchCV (study `ridge-search`"
    )
    assert version.run_id == refit.info.run_id
    # the search put MLflow's process-wide URIs back as it found them (unset)
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        served = mlflow.pyfunc.load_model(f"models:/diabetes-ridge/{version.version}")
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        os.environ.pop("MLFLOW_REGISTRY_URI", None)
    np.testing.assert_allclose(served.predict(X.head(3)), search.predict(X.head(3)))


def test_a_pruner_stops_unpromising_candidates_at_a_low_rung(cancer):
    from sklearn.linear_model import SGDClassifier

    X, y = cancer
    search = KubetuneSearchCV(
        make_pipeline(StandardScaler(), SGDClassifier(max_iter=27, tol=None, random_state=0)),
        {"sgdclassifier__alpha": {"type": "float", "low": 1e-6, "high": 10.0, "log": True}},
        n_trials=12,
        cv=3,
        sampler="random",
        random_state=0,
        pruner="successive_halving",
        resource="sgdclassifier__max_iter",
        min_resource=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    assert search.rungs_ == [3, 9, 27]
    results = search.cv_results_
    # one row per candidate and rung, as in HalvingRandomSearchCV
    assert set(results["n_resources"]) == {3, 9, 27} and list(results["iter"][:1]) == [0]
    pruned = [t for t in search.study_.trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in search.study_.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert pruned and len(pruned) + len(complete) == 12
    assert len(search.pruned_candidates_) == len(pruned)
    # fewer fits than 12 candidates at every rung; every complete trial reached the full budget
    assert len(results["params"]) < 3 * 12
    assert (results["n_resources"] == 27).sum() == len(complete)
    # the best is chosen among full-budget rows, and the refit trains with the full budget
    assert results["n_resources"][search.best_index_] == 27
    assert search.best_params_["sgdclassifier__max_iter"] == 27
    assert search.best_estimator_[-1].max_iter == 27
    full = results["n_resources"] == 27
    assert search.best_score_ == pytest.approx(np.nanmax(results["mean_test_score"][full]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pruner": "median"}, "resource: pruner='median' needs the estimator parameter"),
        (
            {"pruner": "median", "resource": "max_iters"},
            "resource: LogisticRegression has no parameter 'max_iters' (did you mean 'max_iter'?)",
        ),
        ({"pruner": "median", "resource": "C"}, "resource: 'C' is searched in param_distributions"),
        (
            {"pruner": "median", "resource": "max_iter", "min_resource": 500},
            "min_resource: 500 is not below the estimator's max_iter (100)",
        ),
    ],
)
def test_pruner_settings_that_cannot_work_are_one_line(cancer, kwargs, message):
    search = KubetuneSearchCV(LogisticRegression(), {"C": LOG_C}, n_trials=2, **kwargs)
    with pytest.raises(SearchSettingError) as raised:
        search.fit(*cancer)
    assert str(raised.value).startswith(message)


def test_a_shared_study_storage_is_gone_on_with_by_the_next_search(cancer, tmp_path):
    url = f"journal://{tmp_path / 'studies.journal'}"
    for _ in range(2):
        search = KubetuneSearchCV(
            LogisticRegression(max_iter=300),
            {"C": LOG_C},
            n_trials=3,
            cv=2,
            sampler="tpe",
            study_name="shared-search",
            storage=url,
        ).fit(*cancer)
    assert len(search.study_.trials) == 6 and len(search.cv_results_["params"]) == 3
    with pytest.raises(
        SearchSettingError, match=r"^storage: SQLite is not safe for parallel trials"
    ):
        KubetuneSearchCV(LogisticRegression(), {"C": LOG_C}, storage="sqlite:///x.db").fit(*cancer)


def test_timeout_stops_starting_new_candidates(cancer):
    import time

    started = time.monotonic()
    search = KubetuneSearchCV(
        make_pipeline(StandardScaler(), SVC()),
        {"svc__C": LOG_C},
        n_trials=10_000,
        cv=2,
        sampler="random",
        timeout=1.0,
    ).fit(*cancer)
    assert 1 <= len(search.cv_results_["params"]) < 10_000
    assert time.monotonic() - started < 30
