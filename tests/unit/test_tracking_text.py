"""Text the tracking layer shows a user: the refit's line about integer columns in the model's signature
(MLflow's own hint is many lines) and the study's link in the CLI summary."""

import pandas as pd

from kubetune.components.tracking.tracker import integer_columns, run_url


def test_integer_columns_are_named_and_long_lists_shortened():
    frame = pd.DataFrame(
        {"age": [30, 40], "bmi": [22.5, 30.1], "smoker": ["yes", "no"], "children": [0, 2]}
    )
    assert integer_columns(frame) == "age, children"
    wide = pd.DataFrame({f"c{i}": [1, 2] for i in range(9)})
    assert integer_columns(wide) == "c0, c1, c2, c3, c4, c5 and 3 more"
    assert integer_columns(frame[["bmi", "smoker"]]) == ""
    assert integer_columns([[1, 2]]) == ""  # an example that is no data frame: nothing to name


def test_a_run_link_points_at_the_mlflow_ui_without_credentials_and_only_for_a_server():
    assert (
        run_url("http://mlflow.ml:5000", "7", "abc")
        == "http://mlflow.ml:5000/#/experiments/7/runs/abc?workflowType=machine_learning"
    )
    assert (
        run_url("https://ops:s3cret@mlflow.example/tracking/", "7", "abc")
        == "https://mlflow.example/tracking/#/experiments/7/runs/abc?workflowType=machine_learning"
    )
    assert run_url("sqlite:///mlflow.db", "7", "abc") is None
    assert run_url("file:///tmp/mlruns", "7", "abc") is None
