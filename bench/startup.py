"""Where a small local study spends its time outside its trials: the demo, from the command to its summary.

Runs ``kubetune tune examples/breast_cancer_rf.yaml --n-trials 30 --parallelism 2`` (embedded defaults:
Prefect's throwaway server, a SQLite MLflow store, a journal study storage) in a fresh folder each time
and reads the phases from what the run recorded: the MLflow runs' start and end times against the
command's own start and end.

- before the first trial: the command's start to the first trial run's start (imports, Prefect's
  server, data read and checked, the study's parent run, the warm-start plan, the workers' start);
- the trials: the first trial's start to the last trial's end;
- after the last trial: the last trial's end to the command's end (the analysis stage, the refit and
  the held-out score, the model logged and registered, the study report, close-down), with the
  analysis stage's own ``analysis_seconds`` beside it.

``--compare DIR`` runs another checkout of kubetune (a ``git worktree`` of an older commit) the same way,
interleaved run by run with this one, so both see the same machine: the before/after table of issue 39.

Run: ``.venv/bin/python bench/startup.py --runs 3 [--compare /tmp/kubetune-before]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ["tune", "--n-trials", "30", "--parallelism", "2", "--no-progress"]


def console_script(checkout: Path) -> str:
    """What the checkout's ``kubetune`` console script runs (its entry point in pyproject.toml), as
    Python source for ``-c``: a command times what a user's ``kubetune`` does, exit included."""
    import tomllib

    entry = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]["scripts"][
        "kubetune"
    ]
    module, function = entry.split(":")
    return f"import sys; from {module} import {function} as entry; sys.exit(entry())"


def run_once(checkout: Path) -> dict[str, float]:
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory(prefix="startup-") as folder:
        env = {**os.environ, "DO_NOT_TRACK": "1", "PYTHONPATH": str(checkout)}
        command = [
            sys.executable,
            "-c",
            console_script(checkout),
            DEMO[0],
            str(checkout / "examples" / "breast_cancer_rf.yaml"),
            *DEMO[1:],
        ]
        started = time.time()
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        ended = time.time()
        if done.returncode != 0:
            raise SystemExit(f"{checkout}: the demo failed:\n{done.stderr[-3000:]}")
        client = MlflowClient(tracking_uri=f"sqlite:///{Path(folder) / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("breast-cancer")
        runs = client.search_runs([experiment.experiment_id], max_results=1000)
        trials = [r for r in runs if r.data.tags.get("kubetune.role") == "trial"]
        parent = next(r for r in runs if r.data.tags.get("kubetune.role") == "study")
        first = min(r.info.start_time for r in trials) / 1000
        last = max(r.info.end_time for r in trials) / 1000
    return {
        "command": ended - started,
        "to parent run": parent.info.start_time / 1000 - started,
        "before the first trial": first - started,
        "trials": last - first,
        "after the last trial": ended - last,
        "of which the analysis stage": parent.data.metrics.get("analysis_seconds", float("nan")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", type=Path, help="another kubetune checkout, run interleaved")
    args = parser.parse_args()
    checkouts = {"this checkout": ROOT} | ({"compared": args.compare} if args.compare else {})
    results: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
    for i in range(args.runs):
        order = list(checkouts.items())
        for name, checkout in order if i % 2 == 0 else order[::-1]:
            results[name].append(run_once(checkout.resolve()))
            print(
                f"run {i + 1} {name}: {results[name][-1]['command']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    phases = list(next(iter(results.values()))[0])
    names = list(checkouts)
    print(f"medians of {args.runs} runs, seconds\n")
    print("| phase | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for phase in phases:
        cells = [f"{statistics.median(r[phase] for r in results[n]):.1f}" for n in names]
        print(f"| {phase} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
