"""Several processes opening one new local MLflow database at once: every one of them gets a working store.

MLflow creates and migrates a SQLite store's tables on a process's first open; two first opens at once
used to leave one process failing inside a half-applied migration (a study started while a notebook, or
another study in the same folder, opened the same new mlflow.db)."""

from __future__ import annotations

import multiprocessing

import pytest

from kubetune.components.tracking import open_client, sqlite_file

OPENERS = 4


def _open_together(uri: str, barrier, results) -> None:
    import mlflow  # noqa: F401 - imported before the barrier, so that the opens really start together

    barrier.wait()
    try:
        client = open_client(uri)
        client.create_experiment(f"made-by-{multiprocessing.current_process().name}")
        results.put("ok")
    except Exception as error:  # noqa: BLE001 - the parent asserts on what each process saw
        results.put(f"{type(error).__name__}: {error}")


def test_processes_opening_a_new_sqlite_store_at_once_all_get_its_tables(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(OPENERS), context.Queue()
    processes = [
        context.Process(target=_open_together, args=(uri, barrier, results), name=f"p{i}")
        for i in range(OPENERS)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert outcomes == ["ok"] * OPENERS
    assert [p.exitcode for p in processes] == [0] * OPENERS

    client = open_client(uri)
    names = {e.name for e in client.search_experiments()}
    assert names == {"Default"} | {f"made-by-p{i}" for i in range(OPENERS)}
    assert client.search_registered_models() == []  # the registry's tables exist as well
    assert not list(tmp_path.glob("*.lock"))  # the lock is the database file itself


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:///mlflow.db", "mlflow.db"),
        ("sqlite:////srv/tracking/mlflow.db", "/srv/tracking/mlflow.db"),
        ("sqlite:///runs/mlflow.db?timeout=30", "runs/mlflow.db"),
        ("sqlite+pysqlite:///mlflow.db", "mlflow.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql://mlflow@db/mlflow", None),
        ("http://mlflow:5000", None),
    ],
)
def test_only_a_sqlite_file_is_locked(uri, expected):
    assert sqlite_file(uri) == expected
