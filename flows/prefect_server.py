"""Prefect's throwaway API server for a command run without one, started as the command's first step.

With no Prefect server configured, Prefect starts one per process at the flow's first call and waits
for it (``SubprocessASGIServer``): it imports Prefect's server in this process (about 2.6 s on 2 cores),
then the server's own process starts (about 4.6 s), and nothing else happens meanwhile. ``kubetune tune``
starts the same server process -- the same uvicorn command and settings Prefect uses -- before it reads
and checks the data, and points the flow at it, so the start overlaps the checks and this process never
imports the server. A command that stops on bad input takes the server down with it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from kubetune.components.core import SettingError

HEALTH_POLL_S = 0.1
PORT_TRIES = 3  # the server exits with code 3 when its port was taken meanwhile: another port


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayServer:
    """A Prefect API server in a child process for this command; stopped when the command ends."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> ThrowawayServer:
        import importlib.util

        # where Prefect is installed, without importing it (seconds this start need not wait for)
        prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent  # type: ignore[arg-type, union-attr]
        self.port = free_port()
        # Prefect's own throwaway server: its UI off, its database settings for a throwaway server
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(prefect_dir.parent),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        atexit.register(self.stop)
        return self

    def if_needed(self) -> ThrowawayServer | None:
        """This server, or None (and stopped) where Prefect's settings name a server of their own (a
        profile's ``PREFECT_API_URL``) or turn the throwaway server off. Read after the server started:
        reading Prefect's settings imports Prefect, which the start should not wait for."""
        if needs_throwaway_server():
            return self
        self.stop()
        return None

    def wait_ready(self, timeout_s: float) -> None:
        """Block until the server answers its health check; one line naming the cause if it does not."""
        import httpx

        deadline = time.monotonic() + timeout_s
        tries = 1
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                assert self.process is not None, "start first"
                code = self.process.poll()
                if code == 3 and tries < PORT_TRIES:  # its port was taken meanwhile
                    tries += 1
                    self.start()
                    continue
                if code is not None:
                    raise SettingError(
                        f"Prefect's temporary server exited with code {code}: {self._last_error()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                time.sleep(HEALTH_POLL_S)
        self.stop()
        raise SettingError(
            f"Prefect's temporary server did not answer within {timeout_s:.0f} s "
            "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS); set PREFECT_API_URL to a running server"
        )

    def _last_error(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def needs_throwaway_server() -> bool:
    """No Prefect server configured (environment or profile) and Prefect's throwaway server allowed."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    return not PREFECT_API_URL.value() and bool(PREFECT_SERVER_EPHEMERAL_ENABLED.value())


@contextlib.contextmanager
def served(
    server: ThrowawayServer | None, timeout_s: float, meanwhile: Callable[[], None]
) -> Iterator[None]:
    """Inside the block Prefect talks to ``server`` (once it answers); without one, Prefect's own choice.
    ``meanwhile`` runs first: work of this process that need not wait for the server."""
    meanwhile()
    if server is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server.wait_ready(timeout_s)
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield
