"""Shared fixtures. Real services only: a real Prefect server process, real MLflow stores, real files."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("KUBETUNE_STORAGE_URL", None)

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_reaches_the_tests():
    """A test runner started in the background by a shell without job control (``make test &``) inherits
    SIGINT ignored, and so would every CLI the tests start; the Ctrl-C tests need Python's own handler
    (children then start with the default disposition)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def mlflow_uris_put_back():
    """A test that loads a model through MLflow's fluent API sets its process-wide URIs, as a notebook
    does, and ``set_tracking_uri`` exports them to the environment: the next test in the same worker
    would record where this one did. Put back after each test (a test of kubetune's own code asserts
    itself that the code left them alone)."""
    from kubetune.components.tracking import mlflow_uris_put_back

    with mlflow_uris_put_back():
        yield


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One real Prefect server for the session; CLI runs talk to it instead of each starting its own."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    log = open(home / "server.log", "w")
    process = subprocess.Popen(
        [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_for_http(f"{url}/health", timeout=120, process=process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def cli_env(prefect_api: str, tmp_path: Path) -> dict[str, str]:
    """A fresh environment per CLI run: MLflow's set_tracking_uri() exports MLFLOW_TRACKING_URI, which must not leak."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KUBETUNE_"))}
    return {
        **env,
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(tmp_path / "prefect-client"),
        "PYTHONPATH": str(REPO),
    }


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "kubetune"), *args],
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_spec(path: Path, text: str) -> Path:
    """A test's spec file. A tuning spec that does not mention ``analysis`` gets ``analysis: none``, as
    most get ``warm_start: none``: the finalists' repeated cross-validation multiplies a study's fits,
    and only the tests of that stage (and the example's end-to-end test, which keeps the default) need
    it. The study report, which costs no fit, still runs for every study."""
    if "model:" in text and not re.search(r"^analysis:", text, re.MULTILINE):
        text = text.rstrip("\n") + "\nanalysis: none\n"
    path.write_text(text)
    return path


from tests.services import mlflow_server, postgres_url, private_postgres, s3  # noqa: E402,F401 - fixtures
