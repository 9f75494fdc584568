"""What kind of data a ``data.source`` names, from its text alone.

Shared by the spec's checks (a setting that applies to CSV only) and the reader, so the two cannot
disagree on which sources are parsed as CSV.
"""

from __future__ import annotations

from pathlib import PurePosixPath

PARQUET_SUFFIXES = (".parquet", ".pq")


def source_format(source: str) -> str:
    """``sklearn`` for a bundled dataset, ``parquet`` for a .parquet/.pq path or key, else ``csv``."""
    if source.startswith("sklearn:"):
        return "sklearn"
    suffix = PurePosixPath(source.split("?", 1)[0]).suffix.lower()
    return "parquet" if suffix in PARQUET_SUFFIXES else "csv"
