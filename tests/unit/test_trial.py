from components.data import read_source, write_frame
from components.trial import TrialRequest, run_trial


def make_request(tmp_path, family="random_forest", params=None, **overrides):
    uri = write_frame(read_source("sklearn:breast_cancer"), tmp_path / "train.parquet")
    fields = dict(study_name="s", trial_number=3, params=params or {"n_estimators": 10, "max_depth": 3}, family=family,
                  task="classification", n_classes=2, data_uri=str(uri), target="target", metrics=["roc_auc", "accuracy"],
                  validation="stratified_kfold", folds=3, val_size=0.2, seed=0)
    return TrialRequest(**(fields | overrides))


def test_a_trial_reports_fold_scores_duration_and_peak_memory(tmp_path):
    result = run_trial(make_request(tmp_path))
    assert result.state == "COMPLETE" and result.trial_number == 3
    assert len(result.fold_scores["roc_auc"]) == 3 and len(result.values) == 2
    assert result.values[0] == sum(result.fold_scores["roc_auc"]) / 3
    assert result.duration_s > 0 and result.peak_memory_mb > 10


def test_a_bad_configuration_is_a_failed_result_not_an_exception(tmp_path):
    result = run_trial(make_request(tmp_path, family="knn", params={"n_neighbors": 5000}))
    assert result.state == "FAIL" and result.values is None
    assert result.error.startswith("ValueError:") and "n_neighbors" in result.error


def test_a_request_round_trips_through_json(tmp_path):
    request = make_request(tmp_path)
    assert TrialRequest.model_validate_json(request.model_dump_json()) == request


def test_connection_errors_are_transient_through_optunas_wrapping():
    import optuna
    import sqlalchemy.exc

    from components.transient import is_transient

    def wrapped(inner):
        try:
            try:
                raise inner
            except Exception as error:
                raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from error
        except Exception as outer:
            return outer

    lost = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    assert is_transient(wrapped(lost))
    assert not is_transient(wrapped(sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))))
    assert not is_transient(ValueError("bad value"))


def test_a_trial_on_boolean_category_and_nullable_string_columns_completes(tmp_path):
    """A CSV's True/False column (bool) and a Parquet file's nullable strings and categories: every trial
    failed on them before ("SimpleImputer does not support data with dtype bool"; "boolean value of NA is
    ambiguous"), the study ending "all trials failed"."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 120
    member = rng.random(n) > 0.5
    frame = pd.DataFrame({
        "member": member,
        "plan": pd.Categorical(rng.choice(["basic", "pro", None], n)),
        "region": pd.array(rng.choice(["eu", "us", None], n), dtype="string"),
        "spend": rng.normal(size=n),
        "churned": (member ^ (rng.random(n) < 0.1)).astype(int),
    })
    uri = write_frame(frame, tmp_path / "churn" / "train.parquet")
    request = make_request(tmp_path, family="logistic_regression", params={"C": 1.0}, data_uri=str(uri), target="churned")
    result = run_trial(request)
    assert result.state == "COMPLETE", result.error
    assert result.values[0] > 0.8  # the boolean column carries the signal, so it reached the model


def test_a_trial_on_two_string_classes_scores_the_requested_positive_class(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=200)})
    frame["outcome"] = np.where(frame["x"] + rng.normal(scale=0.8, size=200) > 0.6, "churned", "stayed")
    uri = write_frame(frame, tmp_path / "churn" / "train.parquet")
    values = {}
    for positive in ("churned", "stayed"):
        request = make_request(tmp_path, family="logistic_regression", params={"C": 1.0}, data_uri=str(uri), target="outcome",
                               metrics=["f1", "average_precision"], positive_class=positive)
        result = run_trial(request)
        assert result.state == "COMPLETE", result.error
        values[positive] = result.values[0]
    assert values["churned"] < values["stayed"]  # f1 of the rarer class
