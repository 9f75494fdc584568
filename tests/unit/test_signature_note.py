"""The one line a refit logs about integer columns in the model's signature (MLflow's own hint is many lines)."""

import pandas as pd

from components.tracking import integer_columns


def test_integer_columns_are_named_and_long_lists_shortened():
    frame = pd.DataFrame({"age": [30, 40], "bmi": [22.5, 30.1], "smoker": ["yes", "no"], "children": [0, 2]})
    assert integer_columns(frame) == "age, children"
    wide = pd.DataFrame({f"c{i}": [1, 2] for i in range(9)})
    assert integer_columns(wide) == "c0, c1, c2, c3, c4, c5 and 3 more"
    assert integer_columns(frame[["bmi", "smoker"]]) == ""
    assert integer_columns([[1, 2]]) == ""  # an example that is no data frame: nothing to name
