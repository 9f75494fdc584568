import numpy as np
import pandas as pd
import pytest

from kubetune.components.core import SpecError
from kubetune.components.data.frames import (
    ROW_ID,
    build_preprocessor,
    fingerprint,
    identifier_columns,
    infer_task,
    read_frame,
    read_source,
    split_holdout,
    unencodable_dtype,
    write_frame,
)


def test_bundled_dataset_has_target_and_row_ids():
    frame = read_source("sklearn:breast_cancer")
    assert "target" in frame.columns and len(frame) == 569 and frame.index.name == ROW_ID


def test_unknown_bundled_dataset_is_named():
    with pytest.raises(SpecError, match="unknown bundled dataset 'mnist'"):
        read_source("sklearn:mnist")


def test_csv_and_parquet_read_the_same(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, None], "city": ["x", "y", "x"], "y": [0, 1, 0]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    from_csv, from_parquet = (
        read_source(str(tmp_path / "d.csv")),
        read_source(str(tmp_path / "d.parquet")),
    )
    assert from_csv.shape == from_parquet.shape == (3, 3)
    assert from_csv["city"].tolist() == from_parquet["city"].tolist() == ["x", "y", "x"]


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match=r"data.source: no such file '.*nope.csv'$"):
        read_source(str(tmp_path / "nope.csv"))


def test_a_missing_relative_path_says_where_it_was_looked_for(tmp_path, monkeypatch):
    """A spec run from another folder reads its relative source from the working directory, not beside the spec."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        SpecError,
        match=rf"^data.source: no such file 'data/train.csv' \(a relative path is read from the working directory, {tmp_path}\)$",
    ):
        read_source("data/train.csv")


def test_fingerprint_is_stable_and_sensitive():
    frame = read_source("sklearn:iris")
    assert fingerprint(frame) == fingerprint(frame.copy())
    changed = frame.copy()
    changed.iloc[0, 0] += 0.1
    assert fingerprint(changed) != fingerprint(frame)


@pytest.mark.parametrize(
    "values, task",
    [
        ([0, 1, 0, 1] * 10, "classification"),
        (["a", "b"] * 20, "classification"),
        (list(np.linspace(0, 1, 40)), "regression"),
        ([True, False] * 20, "classification"),
        (list(range(200)), "regression"),
    ],
)
def test_infer_task(values, task):
    assert infer_task(pd.Series(values)) == task


def test_holdout_is_disjoint_stratified_and_time_series_keeps_order():
    frame = read_source("sklearn:breast_cancer")
    split = split_holdout(frame, "target", "classification", 0.2, 0, time_ordered=False)
    assert not set(split.train.index) & set(split.test.index)
    assert len(split.train) + len(split.test) == len(frame)
    assert abs(split.test["target"].mean() - frame["target"].mean()) < 0.02
    ordered = split_holdout(frame, "target", "classification", 0.2, 0, time_ordered=True)
    assert ordered.train.index.max() < ordered.test.index.min()


def test_preprocessor_imputes_scales_and_one_hot_encodes():
    frame = pd.DataFrame({"num": [1.0, None, 3.0, 5.0], "cat": ["a", "b", None, "a"]})
    out = build_preprocessor().fit_transform(frame)
    assert not np.isnan(out).any()
    assert out.shape[1] == 1 + 2  # one scaled number, two one-hot categories
    assert abs(out[:, 0].mean()) < 1e-9


def test_the_column_types_csv_and_parquet_readers_give_all_encode(tmp_path):
    """pandas reads a CSV column of True/False as bool, which SimpleImputer refuses: every trial and the
    landmarkers failed on it. Parquet adds categoricals, nullable integers and nullable booleans."""
    (tmp_path / "flags.csv").write_text("member,spend\nTrue,1.5\nFalse,2.0\nTrue,\nFalse,4.0\n")
    csv = read_source(str(tmp_path / "flags.csv"))
    assert csv["member"].dtype == bool
    out = build_preprocessor().fit_transform(csv)
    assert out.shape == (4, 2) and not np.isnan(out).any()
    assert out[:, 1].tolist() == [
        1.0,
        0.0,
        1.0,
        0.0,
    ]  # the bool column as 0/1, after the scaled number

    typed = pd.DataFrame(
        {
            "category": pd.Categorical(["a", "b", None, "a"]),
            "count": pd.array([1, None, 3, 4], dtype="Int64"),
            "nullable_flag": pd.array([True, None, False, True], dtype="boolean"),
            "flag": [True, False, False, True],
            "text": pd.array(["x", "y", "x", None], dtype="string"),
        }
    )
    typed.to_parquet(tmp_path / "typed.parquet")
    read_back = read_source(str(tmp_path / "typed.parquet"))
    out = build_preprocessor().fit_transform(read_back)
    assert not np.isnan(out).any()
    assert out.shape == (
        4,
        1 + 2 + 2 + 2,
    )  # count; flag and nullable_flag as 0/1; two one-hot columns each for the other two
    assert out[:, 1].tolist() == [
        1.0,
        1.0,
        0.0,
        1.0,
    ]  # nullable_flag: its missing value imputed with the most frequent


@pytest.mark.parametrize(
    "values, refused",
    [
        (pd.date_range("2024-01-01", periods=3), True),
        (pd.date_range("2024-01-01", periods=3, tz="UTC"), True),
        (pd.to_timedelta([1, 2, 3], unit="D"), True),
        (pd.period_range("2024-01", periods=3, freq="M"), True),
        ([True, False, True], False),
        (pd.Categorical(["a", "b", "a"]), False),
        (
            ["2024-01-01", "2024-01-02", "2024-01-03"],
            False,
        ),  # a CSV's dates are strings: one-hot categories
    ],
)
def test_dates_durations_and_periods_are_the_types_no_branch_encodes(values, refused):
    assert unencodable_dtype(pd.Series(values).dtype) is refused


def test_missing_values_choose_which_csv_cells_are_missing(tmp_path):
    """A region named "NA" and a class named "None" are data when the user says so; "?" is then missing."""
    (tmp_path / "sales.csv").write_text("region,units,outcome\nNA,3,None\nEU,?,Some\nNA,,Marked\n")
    default = read_source(str(tmp_path / "sales.csv"))
    assert default["region"].isna().tolist() == [True, False, True]
    assert default["outcome"].isna().tolist() == [True, False, False]
    chosen = read_source(str(tmp_path / "sales.csv"), missing_values=["", "?"])
    assert chosen["region"].tolist() == ["NA", "EU", "NA"]
    assert chosen["outcome"].tolist() == ["None", "Some", "Marked"]
    assert chosen["units"].isna().tolist() == [False, True, True] and chosen["units"].dtype == float


def test_identifier_columns_are_names_and_row_counters_not_measurements():
    n = 40
    frame = pd.DataFrame(
        {
            "name": [f"car {i}" for i in range(n)],  # text, distinct in every row
            "saved_index": np.arange(n)[::-1],  # 0..n-1 in any order: a row counter
            "from_one": np.arange(1, n + 1),  # R's row numbers
            "weight": np.linspace(1.0, 3.0, n),  # distinct floats: a measurement
            "customer_code": np.arange(1000, 1000 + n),  # distinct whole numbers not counting rows
            "colour": ["red", "blue"] * (n // 2),  # a real category
            "gappy": [f"k{i}" for i in range(n - 1)] + [None],  # a missing value: not a key
        }
    )
    assert identifier_columns(frame) == ["name", "saved_index", "from_one"]
    assert identifier_columns(frame.head(19)) == []  # too few rows to tell an id from a feature


def test_a_csv_saved_with_semicolons_and_decimal_commas_reads_with_its_settings(
    tmp_path, monkeypatch
):
    """A European Excel saves ';'-separated fields and numbers as 3,14: read with the defaults, the
    whole header was one column ("column 'price' not found (columns: size;price)"); with the separator
    alone, every number would have been text, one-hot encoded."""
    import pytest

    from kubetune.components.core import SpecError

    monkeypatch.chdir(tmp_path)
    frame = pd.DataFrame(
        {
            "size": [1.5, 2.25, 3.0, 4.75],
            "rooms": [1, 2, 3, 4],
            "city": ["A", "B", "A", "C"],
            "price": [10.5, 20.0, 30.25, 41.0],
        }
    )
    frame.to_csv("houses.csv", sep=";", decimal=",", index=False)
    with pytest.raises(
        SpecError,
        match=r"^data.source: 'houses.csv' reads as one column 'size;rooms;city;price': its fields are "
        r"separated by ';', not ','; set data.separator: \";\"",
    ):
        read_source("houses.csv")
    with pytest.raises(
        SpecError,
        match=r"column 'size' of 'houses.csv' holds numbers written with a decimal comma \('1,5'\); set data.decimal",
    ):
        read_source("houses.csv", separator=";")
    read = read_source("houses.csv", separator=";", decimal=",")
    assert (
        read["size"].tolist() == [1.5, 2.25, 3.0, 4.75]
        and read["price"].dtype == float
        and read["city"].tolist() == ["A", "B", "A", "C"]
    )
    frame.to_csv("tabs.csv", sep="\t", index=False)
    with pytest.raises(SpecError) as error:
        read_source("tabs.csv")
    assert str(error.value).endswith(
        "separated by tabs, not ','; set data.separator: " + '"\\t"'
    ), error.value  # YAML's tab
    assert read_source("tabs.csv", separator="\t")["size"].tolist() == [1.5, 2.25, 3.0, 4.75]


def test_a_csv_not_saved_as_utf8_names_its_encoding_setting(tmp_path, monkeypatch):
    import pytest

    from kubetune.components.core import SpecError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "villes.csv").write_bytes("ville;prix\nMontréal;1,5\nQuébec;2,5\n".encode("cp1252"))
    with pytest.raises(
        SpecError,
        match=r"^data.source: 'villes.csv' is not utf-8 text \(it holds the byte 0xe9\); set data.encoding",
    ):
        read_source("villes.csv", separator=";", decimal=",")
    read = read_source("villes.csv", separator=";", decimal=",", encoding="cp1252")
    assert read["ville"].tolist() == ["Montréal", "Québec"] and read["prix"].tolist() == [1.5, 2.5]


def test_a_saved_index_with_gaps_is_still_a_saved_index():
    """Rows dropped before ``to_csv``: the index pandas writes as "Unnamed: 0" has gaps, and was a model
    input because only an exact 0..n-1 counted."""
    n = 40
    kept = [i for i in range(n + 2) if i not in (7, 19)]
    frame = pd.DataFrame(
        {"Unnamed: 0": kept, "weight": np.linspace(1.0, 3.0, n), "code": np.arange(500, 500 + n)}
    )
    assert identifier_columns(frame) == ["Unnamed: 0"]
    shuffled = frame.sample(frac=1.0, random_state=0)  # not increasing in file order: not an index
    assert identifier_columns(shuffled) == []


def test_numbers_with_a_few_text_cells_are_pointed_out():
    from kubetune.components.data import numeric_text_columns

    n = 50
    frame = pd.DataFrame(
        {
            "age": [str(20 + i % 40) for i in range(n - 4)]
            + ["unknown", "-", "42 years", "unknown"],
            "income": [f"{1000 + i}.50" for i in range(n - 1)] + ["1,234.50"],
            "colour": ["red", "blue"] * (n // 2),  # a real category
            "zip": [
                f"{10000 + i}" for i in range(n)
            ],  # numbers kept as text on purpose: every cell a number
            "height": np.linspace(1.5, 2.0, n),
            "mostly_words": ["a"] * (n - 10) + [str(i) for i in range(10)],
        }
    )
    found = {c.column: c for c in numeric_text_columns(frame)}
    assert sorted(found) == ["age", "income"]
    assert found["age"].n_not_numbers == 4 and found["age"].n_cells == n
    assert found["age"].examples == ("unknown", "-", "42 years")
    assert found["income"].examples == ("1,234.50",)


def test_nested_columns_are_found_and_a_frame_with_them_still_has_a_fingerprint(tmp_path):
    """A Parquet list, struct or map column reads as cells of arrays and dicts: pandas cannot hash them,
    and the data's fingerprint ended in a TypeError traceback."""
    from kubetune.components.data import nested_columns
    from kubetune.components.data.frames import fingerprint, row_hashes

    pd.DataFrame(
        {"tags": [["a", "b"], ["c"]] * 5, "point": [{"x": 1}, {"x": 2}] * 5, "n": range(10)}
    ).to_parquet(tmp_path / "nested.parquet")
    frame = read_source(str(tmp_path / "nested.parquet"))
    assert nested_columns(frame) == ["tags", "point"]
    assert fingerprint(frame) == fingerprint(frame.copy())
    assert fingerprint(frame) != fingerprint(frame.iloc[::-1])
    assert len(set(row_hashes(frame, ["tags", "point"]))) == 2


def test_rewriting_prepared_data_never_shows_a_reader_half_a_file(tmp_path):
    """A second controller of a study rewrites train.parquet while the first one's trials read it."""
    path = tmp_path / "study" / "train.parquet"
    old = pd.DataFrame({"x": np.arange(1000), "y": np.arange(1000) % 2})
    new = pd.DataFrame({"x": np.arange(5), "y": np.arange(5) % 2})
    write_frame(old, path)
    with open(path, "rb") as reader:  # a trial that has opened the file
        write_frame(new, path)
        pd.testing.assert_frame_equal(pd.read_parquet(reader), old)  # its file is whole
    pd.testing.assert_frame_equal(read_frame(str(path)), new)

    unwritable = pd.DataFrame({"x": [1, "a"]})  # Parquet has no column type for both
    with pytest.raises(Exception, match="int|str"):
        write_frame(unwritable, path)
    pd.testing.assert_frame_equal(read_frame(str(path)), new)  # the last good file is kept
    # nothing half written is left beside it
    assert sorted(p.name for p in path.parent.iterdir()) == ["train.parquet"]
