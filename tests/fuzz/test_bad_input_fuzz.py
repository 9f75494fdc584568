"""Property-based fuzzing of what a user hands kubetune: mutated specs and mutated data files.

Whatever the input, ``kubetune validate`` either accepts it (exit 0) or stops with exit 2 and one line
of bounded length that names the problem -- never a traceback -- and records nothing (no MLflow store,
no study). For a few accepted mutants, ``kubetune tune`` finishes or fails its trials cleanly.

Examples are derandomized so CI sees the same ones every run; ``KUBETUNE_FUZZ_EXAMPLES`` and
``--hypothesis-seed`` explore further by hand.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st

from kubetune.flows.cli import main
from tests.conftest import run_cli

EXAMPLES = int(os.environ.get("KUBETUNE_FUZZ_EXAMPLES", "60"))
MAX_LINE = 400  # "kubetune: error: " and the message, which spec reading caps at 300 characters
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALID_SPEC: dict[str, Any] = {
    "study": "fuzz",
    "data": {"source": "data.csv", "target": "target", "test_size": 0.2},
    "model": {
        "family": "logistic_regression",
        "space": {"C": {"type": "float", "low": 0.01, "high": 10.0, "log": True}},
    },
    "objective": {"metric": "accuracy", "direction": "maximize"},
    "validation": {"strategy": "stratified_kfold", "folds": 3},
    "search": {"sampler": "random", "n_trials": 2, "parallelism": 1, "seed": 3},
    "warm_start": "none",
}


def valid_rows(n: int = 80) -> list[list[str]]:
    rng = random.Random(0)
    rows = [["a", "b", "colour", "target"]]
    for _ in range(n):
        a, b = rng.gauss(0, 1), rng.gauss(0, 1)
        rows.append([f"{a:.4f}", f"{b:.4f}", rng.choice(["red", "blue"]), str(int(a + b > 0))])
    return rows


def to_csv(rows: list[list[str]]) -> str:
    return "".join(",".join(row) + "\n" for row in rows)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(min_size=3000, max_size=6000, alphabet="xyz:/@"),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


def paths(spec: dict[str, Any], prefix: tuple = ()) -> list[tuple]:
    found = []
    for key, value in spec.items():
        found.append(prefix + (key,))
        if isinstance(value, dict):
            found += paths(value, prefix + (key,))
    return found


@st.composite
def mutated_specs(draw: st.DrawFn) -> str:
    spec = yaml.safe_load(yaml.safe_dump(VALID_SPEC))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(spec)))
        parent = spec
        for key in path[:-1]:
            parent = parent[key]
        if not isinstance(parent, dict) or path[-1] not in parent:
            continue
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(values)
        else:
            parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    raw = draw(st.sampled_from(["as is", "truncate", "garbage", "tab", "duplicate line"]))
    if raw == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif raw == "garbage":
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.text(max_size=20)) + text[cut:]
    elif raw == "tab":
        text = text.replace("  ", "\t", 1)
    elif raw == "duplicate line" and text.strip():
        lines = text.splitlines(keepends=True)
        line = draw(st.sampled_from(lines))
        text += line
    return text


@st.composite
def mutated_data(draw: st.DrawFn) -> bytes:
    rows = valid_rows()
    for _ in range(draw(st.integers(1, 4))):
        action = draw(
            st.sampled_from(["cell", "drop column", "duplicate header", "short row", "blank"])
        )
        if len(rows) < 2 or not rows[0]:
            break  # nothing left to mutate
        if action == "cell":
            row = draw(st.integers(1, len(rows) - 1))
            if rows[row]:
                column = draw(st.integers(0, len(rows[row]) - 1))
                rows[row][column] = draw(
                    st.sampled_from(
                        ["", "?", "unknown", "1,234.5", "NaN", "inf", "-", '"', "x" * 500]
                    )
                )
        elif action == "drop column" and len(rows[0]) > 1:
            column = draw(st.integers(0, len(rows[0]) - 1))
            rows = [row[:column] + row[column + 1 :] for row in rows]
        elif action == "duplicate header":
            rows[0][draw(st.integers(0, len(rows[0]) - 1))] = rows[0][0]
        elif action == "short row":
            rows[draw(st.integers(1, len(rows) - 1))] = ["1"]
        elif action == "blank":
            rows = rows[: draw(st.integers(0, 3))]
    data = to_csv(rows).encode()
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=16)) + data[cut:]
    return data


def validate(folder: Path) -> tuple[int, str]:
    """``kubetune validate spec.yaml`` in-process (it never imports Prefect): exit code and stderr."""
    stderr = io.StringIO()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = main(["validate", "spec.yaml"])
    finally:
        os.chdir(cwd)
    return code, stderr.getvalue()


def assert_clean_outcome(code: int, stderr: str, folder: Path) -> None:
    event(f"exit {code}")  # --hypothesis-show-statistics: how many mutants each way
    assert "Traceback" not in stderr, stderr[-3000:]
    assert code in (0, 2), (code, stderr[-2000:])
    if code == 2:
        errors = [line for line in stderr.splitlines() if line.startswith("kubetune: error: ")]
        assert len(errors) == 1, stderr[-2000:]
        assert len(errors[0]) <= MAX_LINE, len(errors[0])
    recorded = {p.name for p in folder.iterdir()} - {"spec.yaml", "data.csv"}
    assert not recorded, recorded  # validate records nothing, accepted or not


@FUZZ
@given(text=mutated_specs())
def test_a_mutated_spec_is_accepted_or_refused_in_one_line(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    folder = tmp_path_factory.mktemp("spec")
    (folder / "data.csv").write_text(to_csv(valid_rows()))
    (folder / "spec.yaml").write_text(text)
    code, stderr = validate(folder)
    assert_clean_outcome(code, stderr, folder)


@FUZZ
@given(data=mutated_data())
def test_a_mutated_data_file_is_accepted_or_refused_in_one_line(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    folder = tmp_path_factory.mktemp("data")
    (folder / "data.csv").write_bytes(data)
    (folder / "spec.yaml").write_text(yaml.safe_dump(VALID_SPEC))
    code, stderr = validate(folder)
    assert_clean_outcome(code, stderr, folder)


@pytest.mark.e2e
@settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=mutated_data())
def test_an_accepted_mutant_tunes_to_the_end_or_fails_its_trials_cleanly(
    tmp_path_factory: pytest.TempPathFactory, cli_env: dict[str, str], data: bytes
) -> None:
    folder = tmp_path_factory.mktemp("tune")
    (folder / "data.csv").write_bytes(data)
    (folder / "spec.yaml").write_text(yaml.safe_dump(VALID_SPEC))
    code, _ = validate(folder)
    assume(code == 0)  # refused mutants are the properties above; these are the ones it accepts
    result = run_cli(["tune", "spec.yaml", "--no-progress"], cwd=folder, env=cli_env, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode in (0, 1), result.stderr[-2000:]
    if (
        result.returncode == 1
    ):  # every trial failed: said in one line, each trial recorded as failed
        assert result.stderr.strip().splitlines()[-1].startswith("kubetune: error: all ")
