"""Reading a spec file: every malformed file or value is one bounded line naming what is wrong, never a
traceback, a hang or an echo of the input."""

from __future__ import annotations

import gzip

import pytest

from kubetune.components.core import SpecError, redact_text
from kubetune.components.spec.schema import MAX_ERROR_CHARS, load_spec

SPEC = """study: s
data: {source: "sklearn:iris", target: target}
model:
  family: svm
  space:
    kernel: {type: categorical, choices: [linear, rbf]}
    gamma: {type: float, low: 1.0e-4, high: 1, log: true, when: {kernel: rbf}}
objective: {metric: accuracy}
"""


def error_of(tmp_path, content: bytes | str, overrides=None) -> str:
    path = tmp_path / "spec.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SpecError) as caught:
        load_spec(path, overrides)
    message = str(caught.value)
    assert "\n" not in message and len(message) <= MAX_ERROR_CHARS, message
    return message


def test_the_readmes_conditional_example_survives_a_cli_override(tmp_path):
    """Overrides copied the spec through a key-sorting YAML dump: 'gamma' then came before 'kernel' and the
    spec was refused ('kernel' must be listed before 'gamma')."""
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    spec = load_spec(path, {"search.n_trials": 5})
    assert list(spec.model.space) == ["kernel", "gamma"] and spec.search.n_trials == 5


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("search: {seed: -1}", "search.seed: Input should be greater than or equal to 0"),
        (
            "search: {seed: 1099511627776}",
            "search.seed: Input should be less than or equal to 4294967295",
        ),
        ("search: {n_trials: true}", "search.n_trials: Input should be a valid integer"),
        ("search: {parallelism: 2.5}", "search.parallelism: Input should be a valid integer"),
        (
            "tracking: {mlflow_uri: 'ftp://mlflow.example/'}",
            "tracking.mlflow_uri: scheme 'ftp' is not one MLflow tracks to",
        ),
        (
            "tracking: {experiment: '" + "e" * 100_000 + "'}",
            "tracking.experiment: String should have at most 500 characters",
        ),
        (
            "tracking: {experiment: ''}",
            "tracking.experiment: String should have at least 1 character",
        ),
    ],
)
def test_out_of_range_values_are_one_line(tmp_path, edit, expected):
    assert error_of(tmp_path, SPEC + edit + "\n").startswith(expected)


@pytest.mark.parametrize("bound", [".inf", "-.inf", ".nan"])
def test_infinite_or_nan_bounds_are_refused_when_the_spec_is_read(tmp_path, bound):
    text = SPEC.replace("high: 1, log: true", f"high: {bound}")
    assert error_of(tmp_path, text).startswith(
        "model.space.gamma.high: Input should be a finite number"
    )


def test_a_cli_seed_override_outside_numpys_range_is_one_line(tmp_path):
    assert error_of(tmp_path, SPEC, {"search.seed": -5}).startswith("search.seed:")


def test_a_very_long_data_source_is_named(tmp_path):
    assert error_of(tmp_path, SPEC.replace('"sklearn:iris"', "/" + "d" * 5000 + ".csv")).startswith(
        "data.source: String should have at most 2048 characters"
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            SPEC.encode("utf-16"),
            "is not UTF-8 text: byte 0xff at position 0 (it looks like UTF-16: save it as UTF-8)",
        ),
        (gzip.compress(SPEC.encode()), "is gzip-compressed; decompress it first"),
        (SPEC.encode().replace(b"iris", b"ir\xe9s"), "is not UTF-8 text: byte 0xe9 at position"),
    ],
    ids=["utf-16", "gzip", "stray-byte"],
)
def test_a_file_that_is_not_utf8_text_is_named(tmp_path, content, expected):
    assert expected in error_of(tmp_path, content)


def test_deep_nesting_is_one_line_not_a_recursion_traceback(tmp_path):
    assert error_of(tmp_path, "a: " + "[" * 600 + "]" * 600 + "\n").endswith(
        "is nested too deeply to be a spec"
    )


def test_a_repeated_key_is_an_error_instead_of_the_last_one_winning(tmp_path):
    """A second `data:` block used to switch the dataset without a word."""
    message = error_of(tmp_path, SPEC + 'data: {source: "sklearn:wine", target: target}\n')
    assert message == "spec: key 'data' appears twice (line 9); keep one"


def test_a_yaml_alias_bomb_is_refused_without_echoing_it(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    assert error_of(
        tmp_path, SPEC + "bomb: {" + bomb.replace("\n", ", ").rstrip(", ") + "}\n"
    ).startswith("spec: more than 100,000 values")


def test_an_unknown_literal_echoes_a_bounded_part_of_the_value(tmp_path):
    message = error_of(tmp_path, SPEC + "search: {sampler: '" + "z" * 200_000 + "'}\n")
    assert message.startswith("search.sampler: Input should be") and len(message) <= MAX_ERROR_CHARS


@pytest.mark.timeout(
    60
)  # a hang guard, not a speed target: the backtracking regex took minutes here
def test_masking_a_megabyte_value_is_linear():
    assert redact_text("a" * 1_000_000) == "a" * 1_000_000
    assert (
        redact_text("x" * 100_000 + " postgresql://u:pw@h/db")
        == "x" * 100_000 + " postgresql://u:***@h/db"
    )


def test_a_users_family_needs_only_what_the_docs_list():
    """A family without ``tasks`` ended validate and tune with an AttributeError traceback."""
    import pandas as pd

    from kubetune.components.pipeline.preflight_checks import check_data
    from kubetune.components.spec import parse_spec

    frame = pd.DataFrame({"a": [0.1 * i for i in range(60)], "y": [0, 1] * 30})
    spec = parse_spec(
        {
            "data": {"source": "x.csv", "target": "y"},
            "model": {"family": "tests.families:NoTasksFamily"},
            "objective": {"metric": "accuracy"},
        }
    )
    assert check_data(spec, frame).task == "classification"


def test_a_users_family_without_build_is_one_line():
    from kubetune.components.models import get_family

    with pytest.raises(
        SpecError, match=r"^model.family: 'tests.families:NoBuildFamily' has no build method"
    ):
        get_family("tests.families:NoBuildFamily")


def _facts(tmp_path, csv_text, target="target", task=None):
    from kubetune.components.data import read_data
    from kubetune.components.pipeline.preflight_checks import check_data
    from kubetune.components.spec import parse_spec

    path = tmp_path / "data.csv"
    path.write_text(csv_text)
    data = {"source": str(path), "target": target} | ({"task": task} if task else {})
    spec = parse_spec(
        {
            "data": data,
            "model": {"family": "knn"},
            "objective": {"metric": "accuracy" if task != "regression" else "r2"},
        }
    )
    return check_data(spec, read_data(spec.data))


def test_a_repeated_column_name_is_refused_instead_of_renamed(tmp_path):
    rows = "".join(f"{i},{i % 3},{i % 2},{i % 2}\n" for i in range(40))
    with pytest.raises(
        SpecError, match=r"^data.source: the column name 'target' appears twice in the header"
    ):
        _facts(tmp_path, "a,b,target,target\n" + rows)


def test_a_copy_of_the_target_among_the_features_is_refused(tmp_path):
    rows = "".join(
        f"{i},{'yes' if i % 2 else 'no'},{'yes' if i % 2 else 'no'}\n" for i in range(40)
    )
    with pytest.raises(
        SpecError, match=r"^data.source: column 'leak' equals the target 'target' in every row"
    ):
        _facts(tmp_path, "a,leak,target\n" + rows)


def test_a_constant_regression_target_is_refused(tmp_path):
    rows = "".join(f"{i},{i * 2},3.5\n" for i in range(40))
    with pytest.raises(
        SpecError, match=r"^data.target: 'target' is 3.5 in every row; there is nothing to learn"
    ):
        _facts(tmp_path, "a,b,target\n" + rows, task="regression")
