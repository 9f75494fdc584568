"""What makes a run reproducible: the code's git commit and the versions of the packages that ran it."""

from __future__ import annotations

import subprocess
from importlib import metadata

KEY_PACKAGES = (
    "kubetune",
    "optuna",
    "mlflow",
    "prefect",
    "scikit-learn",
    "torch",
    "numpy",
    "pandas",
)


def git_commit(cwd: str | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def all_package_versions() -> dict[str, str]:
    return {d.metadata["Name"]: d.version for d in metadata.distributions() if d.metadata["Name"]}
