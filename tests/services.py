"""Real services on 127.0.0.1 for the data-plane tests: PostgreSQL, moto's S3 server, an MLflow server.

Secrets below are deliberately distinctive so tests can search every log and store for them: PostgreSQL
here uses trust authentication (the password in the URL is accepted and ignored), moto accepts any key.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, free_port, wait_for_http

PG_PASSWORD = "pg-Secret-7f3a9c"
AWS_KEY_ID = "AKIAKUBETUNETEST0001"
AWS_SECRET = "aws-Secret-4b8e2d61c0"
PG_HOST, PG_PORT = "127.0.0.1", 5432


def _admin(port: int = PG_PORT, host: str = PG_HOST):
    import psycopg

    return psycopg.connect(
        host=host, port=port, user="postgres", dbname="postgres", connect_timeout=5, autocommit=True
    )


def _execute(sql: str, port: int, host: str) -> None:
    connection = _admin(port, host)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def create_database(port: int = PG_PORT, host: str = PG_HOST) -> str:
    name = f"kt_{uuid.uuid4().hex[:12]}"
    _execute(f'CREATE DATABASE "{name}"', port, host)
    return name


def drop_database(name: str, port: int = PG_PORT, host: str = PG_HOST) -> None:
    try:
        _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', port, host)
    except Exception:  # noqa: BLE001 - best effort clean-up
        pass


def pg_url(name: str, port: int = PG_PORT, host: str = PG_HOST) -> str:
    return f"postgresql://postgres:{PG_PASSWORD}@{host}:{port}/{name}"


@pytest.fixture
def postgres_url() -> str:
    """A database of its own for each test, on the machine's PostgreSQL server."""
    name = create_database()
    yield pg_url(name)
    drop_database(name)


@dataclass
class S3Endpoint:
    url: str
    server: object

    def env(self) -> dict[str, str]:
        return {
            "KUBETUNE_S3_ENDPOINT_URL": self.url,
            "MLFLOW_S3_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=AWS_KEY_ID,
            aws_secret_access_key=AWS_SECRET,
            region_name="us-east-1",
        )

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()


@pytest.fixture(scope="session")
def s3() -> S3Endpoint:
    """moto's S3 server over real HTTP: boto3 and MLflow talk to it as to any S3-compatible store."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = S3Endpoint(f"http://127.0.0.1:{port}", server)
    for bucket in ("kubetune-artifacts", "mlflow-artifacts"):
        endpoint.client().create_bucket(Bucket=bucket)
    yield endpoint
    server.stop()


@dataclass
class MlflowServer:
    url: str
    log: Path
    backend_db: str


def start_mlflow_server(
    backend_url: str, s3: S3Endpoint, workdir: Path
) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    log = workdir / "mlflow-server.log"
    env = {**os.environ, **s3.env()}
    env.pop("MLFLOW_TRACKING_URI", None)
    process = subprocess.Popen(
        [
            str(VENV_BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            backend_url,
            "--artifacts-destination",
            "s3://mlflow-artifacts/",
            "--serve-artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=workdir,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/health", timeout=180, process=process)
    return process, url, log


def stop_process(process: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="session")
def mlflow_server(s3: S3Endpoint, tmp_path_factory: pytest.TempPathFactory) -> MlflowServer:
    """A real ``mlflow server``: PostgreSQL backend store, S3 (moto) artifact store, proxied artifacts."""
    name = create_database()
    workdir = tmp_path_factory.mktemp("mlflow-server")
    process, url, log = start_mlflow_server(pg_url(name), s3, workdir)
    yield MlflowServer(url, log, name)
    stop_process(process)
    drop_database(name)


@dataclass
class PrivatePostgres:
    """A PostgreSQL instance of the test's own, so it can be restarted without touching anything else."""

    datadir: Path
    port: int

    def _ctl(self, *args: str) -> None:
        binary = next(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(binary),
                "-D",
                str(self.datadir),
                "-w",
                "-t",
                "60",
                *args,
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self._ctl(
            "-o",
            f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1",
            "-l",
            str(self.datadir / "log"),
            "start",
        )

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


@pytest.fixture
def private_postgres(tmp_path_factory: pytest.TempPathFactory) -> PrivatePostgres:
    initdb = next(Path("/usr/lib/postgresql").glob("*/bin/initdb"), None)
    if initdb is None or shutil.which("runuser") is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    datadir = Path(tempfile_dir()) / f"pg-{uuid.uuid4().hex[:8]}"
    datadir.mkdir(parents=True)
    shutil.chown(datadir, "postgres", "postgres")
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(initdb),
            "-D",
            str(datadir),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
        check=True,
        capture_output=True,
    )
    instance = PrivatePostgres(datadir, free_port())
    instance.start()
    yield instance
    try:
        instance.stop()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(datadir, ignore_errors=True)


def tempfile_dir() -> str:
    """A folder the postgres user can enter (pytest's tmp_path is private to root)."""
    import tempfile

    path = Path(tempfile.gettempdir()) / "kubetune-pg"
    path.mkdir(exist_ok=True)
    path.chmod(0o755)
    return str(path)
