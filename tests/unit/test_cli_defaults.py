"""The CLI's environment defaults reach the libraries that read them, and never override the user's."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

# what `kubetune tune` does before its flow starts, then the value Prefect's ephemeral server waits for
PROBE = """
import sys
from flows import cli
assert "prefect" not in sys.modules, "prefect was imported before the CLI set its defaults"
cli._patient_prefect_startup()
from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS
print(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
"""


def startup_timeout_seen_by_prefect(**env: str) -> int:
    base = {k: v for k, v in os.environ.items() if k != "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_the_ephemeral_prefect_server_gets_time_to_start_on_a_busy_machine() -> None:
    assert startup_timeout_seen_by_prefect() == 120  # Prefect's own default is 20 s


def test_a_startup_timeout_the_user_set_is_kept() -> None:
    assert startup_timeout_seen_by_prefect(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="45") == 45
