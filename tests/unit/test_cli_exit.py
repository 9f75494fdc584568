"""The console script's exit skips the interpreter's teardown, nothing before it: the exit code, the
output, the exit handlers and the threads Python would wait for all come through, and a thread pool
left open does not keep the command from ending."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import atexit, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from kubetune.flows import cli

out = Path(sys.argv[1])

def slow_writer():  # a non-daemon thread still working when main returns, as Prefect's workers can be
    time.sleep(0.3)
    out.with_suffix(".thread").write_text("thread finished")

def main(argv=None):
    threading.Thread(target=slow_writer).start()
    # a pool never shut down: its idle threads end only when the interpreter's exit tells them to,
    # as the Kubernetes client's and Prefect's pools do
    global pool  # still referenced at exit, as a module-level pool is
    pool = ThreadPoolExecutor(2)
    pool.submit(time.sleep, 0.01)
    print("summary line", end="")  # no newline: only a flush writes it
    return int(sys.argv[2])

atexit.register(lambda: out.with_suffix(".handler").write_text("handler ran"))
cli.main = main
cli.command()
raise SystemExit("command() returned")
"""


def run_probe(tmp_path, code: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "marker"), str(code)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


def test_the_fast_exit_keeps_the_code_output_handlers_and_threads(tmp_path):
    done = run_probe(tmp_path, 0)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "summary line"
    assert (tmp_path / "marker.thread").read_text() == "thread finished"
    assert (tmp_path / "marker.handler").read_text() == "handler ran"


def test_the_fast_exit_passes_a_failing_exit_code_on(tmp_path):
    done = run_probe(tmp_path, 2)
    assert done.returncode == 2, done.stderr
    assert "command() returned" not in done.stderr
