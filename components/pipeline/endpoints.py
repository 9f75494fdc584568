"""Reachability and credential checks for the services a job talks to, run before any trial starts.

Each failure is one line that names the endpoint (with any password removed) and what went wrong.
"""

from __future__ import annotations

import os

from kubetune.components.core import SpecError, masked_password_problem, redact_url
from kubetune.components.data import ArtifactError, check_access
from kubetune.components.tracking import database_file_problem, is_in_memory, sqlite_file


def check_mlflow(uri: str) -> None:
    """An MLflow tracking server must answer an authenticated API call; a local SQLite file must be
    one this process can write (or create); other database stores are left to MLflow."""
    if problem := masked_password_problem(uri, "tracking.mlflow_uri", "MLFLOW_TRACKING_URI"):
        raise SpecError(problem)
    if is_in_memory(uri):
        raise SpecError(
            f"tracking.mlflow_uri: {uri} is an in-memory database, gone when the command ends; "
            "name a file (sqlite:///mlflow.db) or a tracking server"
        )
    if (path := sqlite_file(uri)) and (problem := database_file_problem(path)):
        raise SpecError(f"tracking.mlflow_uri: {problem}")
    if not uri.startswith(("http://", "https://")):
        return
    import requests

    headers, auth = {}, None
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"
    elif os.environ.get("MLFLOW_TRACKING_USERNAME"):
        auth = (
            os.environ["MLFLOW_TRACKING_USERNAME"],
            os.environ.get("MLFLOW_TRACKING_PASSWORD", ""),
        )
    where = redact_url(uri)
    try:
        response = requests.get(
            f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/search",
            params={"max_results": 1},
            headers=headers,
            auth=auth,
            timeout=5,
        )
    except requests.RequestException as error:
        raise SpecError(
            f"tracking.mlflow_uri: cannot reach the MLflow server at {where}: {type(error).__name__}"
        ) from None
    if response.status_code in (401, 403):
        raise SpecError(
            f"tracking.mlflow_uri: the MLflow server at {where} refused the credentials (HTTP {response.status_code})"
        )
    if response.status_code != 200:
        raise SpecError(
            f"tracking.mlflow_uri: the MLflow server at {where} answered HTTP {response.status_code}"
        )


def check_artifacts(root: str | None) -> None:
    if root is None:
        return
    try:
        check_access(root)
    except ArtifactError as error:
        raise SpecError(f"artifacts.uri: {error}") from None
