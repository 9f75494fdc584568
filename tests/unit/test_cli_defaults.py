"""The CLI's environment defaults reach the libraries that read them, and never override the user's."""

from __future__ import annotations

import os
import subprocess
import sys

from kubetune.flows import cli
from tests.conftest import REPO

# what `kubetune tune` does before its flow starts, then the value Prefect's ephemeral server waits for
PROBE = """
import sys
from kubetune.flows import cli
assert "prefect" not in sys.modules, "prefect was imported before the CLI set its defaults"
cli.patient_prefect_startup()
from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS
print(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
"""


def startup_timeout_seen_by_prefect(**env: str) -> int:
    base = {
        k: v
        for k, v in os.environ.items()
        if k != "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_the_ephemeral_prefect_server_gets_time_to_start_on_a_busy_machine() -> None:
    assert startup_timeout_seen_by_prefect() == 120  # Prefect's own default is 20 s


def test_a_startup_timeout_the_user_set_is_kept() -> None:
    assert (
        startup_timeout_seen_by_prefect(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="45") == 45
    )


def test_a_startup_timeout_prefect_could_not_read_stops_the_run_with_one_line(
    monkeypatch, capsys, tmp_path
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        'study: s\ndata: {source: "sklearn:iris"}\nmodel: {family: knn}\nobjective: {metric: accuracy}\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "soon")
    assert cli.main(["tune", str(spec)]) == 2
    assert (
        capsys.readouterr().err
        == "kubetune: error: PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 'soon' is not a whole number of seconds above 0\n"
    )
    assert list(tmp_path.iterdir()) == [spec]  # nothing started, nothing recorded
