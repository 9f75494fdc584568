"""Per-trial framework overhead of kubetune, and parallel efficiency.

Runs the real ``tune`` Prefect flow (Prefect's engine, the local worker pool, a journal study storage,
a SQLite MLflow store) with a no-op objective, and reads the timings back from MLflow:

* overhead per trial at parallelism 1: the gap between one trial's run starting and the next one's,
  minus the time the worker spent in the objective (``duration_s``); reported as the median.
* overhead per trial at parallelism 2: wall-clock time per trial not explained by the objective work
  shared by 2 workers, i.e. (trial-loop wall time / trials) - (mean objective time / 2).
* parallel efficiency for 1-second trials at parallelism 2: speedup over parallelism 1 on the same
  trials, divided by 2 (trial-loop wall time; worker start-up is reported on its own line).

Usage (from the repository root):  python bench/overhead.py [--trials 100] [--repeats 3]
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


def spec(name: str, n_trials: int, parallelism: int, sleep: float) -> dict:
    return {
        "study": name,
        "data": {"source": "sklearn:breast_cancer"},
        "model": {
            "family": "bench.families:NoopFamily",
            "space": {"x": {"type": "float", "low": 0, "high": 1}},
            "params": {"sleep": sleep},
        },
        "objective": {"metric": "accuracy"},
        "validation": {"strategy": "holdout"},
        "search": {
            "sampler": "random",
            "n_trials": n_trials,
            "parallelism": parallelism,
            "seed": 0,
        },
        "tracking": {"experiment": name},
    }


def trial_runs(name: str) -> list:
    from mlflow import MlflowClient

    client = MlflowClient("sqlite:///mlflow.db")
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs(
        [experiment.experiment_id], "tags.`kubetune.role` = 'trial'", max_results=10_000
    )
    return sorted(runs, key=lambda r: int(r.data.tags["kubetune.trial_number"]))


STARTUP: list[float] = []


def run(tune, name: str, n_trials: int, parallelism: int, sleep: float) -> tuple[float, list]:
    result = tune(spec(name, n_trials, parallelism, sleep))
    STARTUP.append(result.worker_startup_seconds)
    return result.search_seconds, trial_runs(name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument(
        "--slow-trials", type=int, default=20, help="trials of 1 s for the efficiency figure"
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    os.chdir(tempfile.mkdtemp(prefix="kubetune-bench-"))
    from kubetune.flows.tune import tune

    p1_overheads, p2_overheads, efficiencies, walls = [], [], [], {}
    for repeat in range(args.repeats):
        wall, runs = run(tune, f"p1-{repeat}", args.trials, 1, 0.0)
        starts = [r.info.start_time / 1000 for r in runs]
        durations = [r.data.metrics["duration_s"] for r in runs]
        p1_overheads += [(b - a) - d for a, b, d in zip(starts, starts[1:], durations)]
        walls.setdefault("p1", []).append(wall)

        wall, runs = run(tune, f"p2-{repeat}", args.trials, 2, 0.0)
        mean_duration = statistics.fmean(r.data.metrics["duration_s"] for r in runs)
        p2_overheads.append(wall / args.trials - mean_duration / 2)
        walls.setdefault("p2", []).append(wall)

        slow_p1, _ = run(tune, f"slow-p1-{repeat}", args.slow_trials, 1, 1.0)
        slow_p2, _ = run(tune, f"slow-p2-{repeat}", args.slow_trials, 2, 1.0)
        efficiencies.append(slow_p1 / slow_p2 / 2)
        walls.setdefault("slow_p1", []).append(slow_p1)
        walls.setdefault("slow_p2", []).append(slow_p2)

    ms = lambda values: f"{1000 * statistics.median(values):.1f} ms"  # noqa: E731
    print("| measure | median | runs |\n|---|---|---|")
    print(
        f"| overhead per trial, parallelism 1 (no-op objective) | {ms(p1_overheads)} | {len(p1_overheads)} trial gaps over {args.repeats} studies of {args.trials} |"
    )
    print(
        f"| overhead per trial, parallelism 2 (no-op objective) | {ms(p2_overheads)} | {args.repeats} studies of {args.trials} |"
    )
    print(
        f"| parallel efficiency, 1-s trials, parallelism 2 | {100 * statistics.median(efficiencies):.1f} % | {args.repeats} studies of {args.slow_trials} |"
    )
    print(
        f"| trial-loop wall time, no-op, p1 / p2 | {statistics.median(walls['p1']):.2f} s / {statistics.median(walls['p2']):.2f} s | ratio {statistics.median(walls['p1']) / statistics.median(walls['p2']):.2f} |"
    )
    print(
        f"| trial-loop wall time, 1-s trials, p1 / p2 | {statistics.median(walls['slow_p1']):.2f} s / {statistics.median(walls['slow_p2']):.2f} s | ratio {statistics.median(walls['slow_p1']) / statistics.median(walls['slow_p2']):.2f} |"
    )
    print(
        f"| worker start-up (spawn + imports, once per study) | {statistics.median(STARTUP):.2f} s | {len(STARTUP)} studies |"
    )


if __name__ == "__main__":
    main()
