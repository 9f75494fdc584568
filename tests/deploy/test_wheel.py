"""What `pip install kubetune` puts into site-packages: the wheel holds the kubetune package and nothing
else at the top (no `components` or `flows` to collide with another project's), every subpackage's public
surface (lazy_loader reads the stubs at import time), and the two console scripts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_installs_only_under_the_kubetune_name(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("kubetune-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {
        "kubetune",
        wheel.name.split("-py3")[0] + ".dist-info",
    }
    subpackages = sorted(
        p.name for p in (REPO / "components").iterdir() if (p / "__init__.py").exists()
    )
    stubs = sorted(n.split("/")[2] for n in names if n.endswith("__init__.pyi"))
    assert stubs == subpackages
    # the package's own __init__ (kubetune.tune, kubetune.KubetuneSearchCV), and each module once: the
    # links in kubetune/ to components/ and flows/ are not followed into a second copy
    assert "kubetune/__init__.py" in names
    assert len(names) == len(set(names))
    assert not any(n.startswith("kubetune/kubetune/") for n in names)
    assert sum(n.endswith("/search_cv.py") for n in names) == 1
    entry_points = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith("entry_points.txt")))
        .decode()
    )
    assert "kubetune = kubetune.flows.cli:command" in entry_points
    assert "kubetune-trial = kubetune.components.execution.pod_entrypoint:main" in entry_points
