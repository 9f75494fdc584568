"""Several controllers open one new PostgreSQL database at the same moment: all of them get the storage.

Optuna's schema creation is not safe against a second process doing the same at once (PostgreSQL's enum
types fail with DuplicateObject); ``open_storage`` orders it with an advisory lock.
"""

from __future__ import annotations

import subprocess
import sys
import time

import optuna
import pytest

from tests.services import create_database, drop_database, pg_url

OPENER = """
import sys, time
start = float(sys.argv[2])
from kubetune.components.execution import open_storage
import optuna
time.sleep(max(0.0, start - time.time()))
storage = open_storage(sys.argv[1])
optuna.create_study(study_name="together", storage=storage, load_if_exists=True)
print("opened")
"""


@pytest.mark.parametrize("round_", range(3))
def test_processes_opening_a_new_database_together_all_succeed(round_):
    name = create_database()
    url = pg_url(name)
    try:
        start = time.time() + 6  # every process has imported Optuna and SQLAlchemy by then
        openers = [
            subprocess.Popen(
                [sys.executable, "-c", OPENER, url, str(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = [(p.wait(timeout=120), *p.communicate()) for p in openers]
        assert [code for code, _, _ in results] == [0] * 4, [err[-800:] for _, _, err in results]
        assert all(out.strip() == "opened" for _, out, _ in results)
        summaries = optuna.get_all_study_summaries(url)
        assert [s.study_name for s in summaries] == ["together"]
    finally:
        drop_database(name)
