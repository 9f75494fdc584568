"""Trials per second with 8 local workers: PostgreSQL study storage versus the local journal file.

No-op objective; everything else is the real job (the ``tune`` Prefect flow, the worker pool, a SQLite
MLflow store, identical for both storages, so the ratio isolates the study storage). Each repeat runs
both storages back to back; medians and the ratio are reported.

Usage (from the repository root):
    python bench/storage.py [--trials 200] [--repeats 3] [--pg-admin postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from bench.postgres import create_database, drop_database  # noqa: E402 - after the path is set


def spec(name: str, n_trials: int, storage_url: str) -> dict:
    return {
        "study": name,
        "data": {"source": "sklearn:breast_cancer"},
        "model": {
            "family": "bench.families:NoopFamily",
            "space": {"x": {"type": "float", "low": 0, "high": 1}},
        },
        "objective": {"metric": "accuracy"},
        "validation": {"strategy": "holdout"},
        "search": {"sampler": "random", "n_trials": n_trials, "parallelism": 8, "seed": 0},
        "storage": {"url": storage_url},
        "tracking": {"experiment": name},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get(
            "KUBETUNE_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    os.chdir(tempfile.mkdtemp(prefix="kubetune-bench-storage-"))
    from kubetune.flows.tune import tune

    rates: dict[str, list[float]] = {"postgresql": [], "journal": []}
    for repeat in range(args.repeats):
        for kind in ("postgresql", "journal"):
            database, url = (
                create_database(args.pg_admin, "storage.py")
                if kind == "postgresql"
                else (None, f"journal://{Path.cwd() / f'j{repeat}.journal'}")
            )
            try:
                result = tune(spec(f"{kind}-{repeat}", args.trials, url))
            finally:
                if database is not None:  # a scratch database per repeat: not left on the server
                    drop_database(args.pg_admin, database)
            rates[kind].append(args.trials / result.search_seconds)
    pg, journal = statistics.median(rates["postgresql"]), statistics.median(rates["journal"])
    print(
        "| storage (8 workers, no-op objective) | trials/s (median) | all repeats |\n|---|---|---|"
    )
    for kind, median in (("PostgreSQL (RDB, heartbeats)", pg), ("journal file", journal)):
        key = "postgresql" if kind.startswith("Postgre") else "journal"
        print(f"| {kind} | {median:.1f} | {', '.join(f'{r:.1f}' for r in rates[key])} |")
    print(
        f"| ratio PostgreSQL / journal | {pg / journal:.2f} | {args.trials} trials x {args.repeats} repeats |"
    )


if __name__ == "__main__":
    main()
