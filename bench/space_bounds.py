"""Do the default space's bounds cut off good regions? Where the best configurations of `gp` and `tpe`
studies sit in ``hist_gradient_boosting``'s default space, and what a widened bound gives.

For each dataset of bench/peers.py (the same frames, metric and held-out split) and each sampler, a
30-trial kubetune study (``analysis: none``, no warm start). A parameter "sits on a bound" when the best
trial's value lies in the outer 2% of its range, in the parameter's own scale (log or linear). Then, for
the parameter and side most often on a bound, the same GP study runs once more with that bound moved out
by the range's width again (a log range by the same factor), and the best CV scores are compared.

Run: ``.venv/bin/python bench/space_bounds.py`` (Markdown to stdout).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import peers  # noqa: E402

EDGE = 0.02
TRIALS = 30


def space() -> dict[str, dict[str, Any]]:
    from kubetune.components.models import get_family

    return get_family("hist_gradient_boosting").default_space("classification")


def position(value: float, param: dict[str, Any]) -> float:
    """Where ``value`` lies in its range, 0 to 1, in the parameter's own scale."""
    low, high = param["low"], param["high"]
    if param.get("log"):
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


def widened(param: dict[str, Any], side: str) -> dict[str, Any]:
    low, high = param["low"], param["high"]
    wide = dict(param)
    if param.get("log"):
        factor = high / low
        wide["low" if side == "low" else "high"] = low / factor if side == "low" else high * factor
    else:
        width = high - low
        wide["low" if side == "low" else "high"] = low - width if side == "low" else high + width
    if param["type"] == "int":
        wide["low"], wide["high"] = max(1, int(wide["low"])), int(wide["high"])
    return wide


def study(name: str, sampler: str, seed: int, model_space: dict[str, Any] | None) -> dict[str, Any]:
    import kubetune

    frame = peers.load(name)
    task = peers.DATASETS[name][3]
    with tempfile.TemporaryDirectory(prefix="bounds-") as folder:
        data = Path(folder) / f"{name}.parquet"
        frame.to_parquet(data)
        os.chdir(folder)
        model: dict[str, Any] = {"family": "hist_gradient_boosting"}
        if model_space:
            model["space"] = model_space
        result = kubetune.tune(
            {
                "study": f"bounds-{name}-{sampler}-{seed}-{'wide' if model_space else 'default'}",
                "data": {
                    "source": str(data),
                    "target": "target",
                    "task": task,
                    "test_size": peers.TEST_SIZE,
                },
                "model": model,
                "objective": {"metric": peers.metric_of(name, frame)},
                "validation": {
                    "strategy": "stratified_kfold" if task == "classification" else "kfold",
                    "folds": peers.FOLDS,
                },
                "search": {"sampler": sampler, "n_trials": TRIALS, "parallelism": 2, "seed": seed},
                "tracking": {"mlflow_uri": f"sqlite:///{folder}/mlflow.db"},
                "warm_start": "none",
                "analysis": "none",
            },
            progress=False,
        )
    metric = peers.metric_of(name, frame)
    return {
        "params": result.best_params,
        "cv": peers.greater_is_better(metric, result.cv[f"cv_{metric}"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", nargs="+", default=list(peers.DATASETS), choices=list(peers.DATASETS)
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    default = space()
    on_bounds: dict[str, list[int]] = {"gp": [], "tpe": []}
    sides: Counter[tuple[str, str]] = Counter()
    best_gp: dict[str, float] = {}
    print("| dataset | sampler | best CV | parameters on a bound (side) |\n|---|---|---|---|")
    for name in args.datasets:
        for sampler in ("gp", "tpe"):
            outcome = study(name, sampler, args.seed, None)
            edges = []
            for param, value in outcome["params"].items():
                where = position(value, default[param])
                if where <= EDGE or where >= 1 - EDGE:
                    side = "low" if where <= EDGE else "high"
                    edges.append(f"{param} ({side})")
                    if sampler == "gp":
                        sides[(param, side)] += 1
            on_bounds[sampler].append(len(edges))
            if sampler == "gp":
                best_gp[name] = outcome["cv"]
            print(
                f"| {name} | {sampler} | {outcome['cv']:.4f} | {', '.join(edges) or '-'} |",
                flush=True,
            )
    print(
        f"\nParameters on a bound, mean per study: gp {statistics.mean(on_bounds['gp']):.1f}, "
        f"tpe {statistics.mean(on_bounds['tpe']):.1f} (of {len(default)})."
    )
    if not sides:
        return
    (param, side), count = sides.most_common(1)[0]
    wide = {**default, param: widened(default[param], side)}
    print(
        f"\nMost often on a bound for gp: {param} ({side}, {count} of {len(args.datasets)} studies); "
        f"widened to {wide[param]['low']}..{wide[param]['high']}:\n"
    )
    print(
        "| dataset | gp best CV, default space | gp best CV, widened | difference |\n|---|---|---|---|"
    )
    for name in args.datasets:
        outcome = study(name, "gp", args.seed, wide)
        print(
            f"| {name} | {best_gp[name]:.4f} | {outcome['cv']:.4f} | {outcome['cv'] - best_gp[name]:+.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
