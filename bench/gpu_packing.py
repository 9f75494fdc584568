"""Trials per GPU-hour and per CPU-hour: one trial per worker, K trial processes sharing a worker, and K
configurations fused into one batched model (``executor.packing``), side by side in one run.

Every way trains the *same* configurations, drawn at random from the family's default space with its
fused structure (depth, width, batch size) drawn once per group of the largest fused K, so every
fused group is one structure and the other ways train exactly the same list. Each configuration is
trained on the same training rows and scored on the same validation rows (kubetune's holdout split), so
the scores pair up: the table shows the best and median validation accuracy per way and, per
configuration, how far each way's score is from the one-per-worker score.

- ``one per worker``: one trial at a time in one process, as one pod with one GPU runs them today;
- ``processes K``: K worker processes (spawned and warmed first, so their start-up is not counted) each
  training configurations one at a time, sharing the device;
- ``fused K``: groups of K configurations trained as one batched model
  (kubetune.components.evaluation.cross_validate_fused), one group at a time.

Throughput: trials per device-hour = configurations / wall hours on the one device (the GPU, or this
machine); trials per CPU-hour = configurations / CPU hours the way used (the CPU time each process
spent on its trials, added up). Both ``torch_mlp`` and ``torch_nas`` train fused.

What grouping does to the search (``--search``): whole kubetune studies through ``kubetune.tune`` on
``sklearn:digits`` with ``torch_mlp``, the same budget and seeds, each trial alone against fused groups.
A fused group's members share the structure its first member drew, so the sampler proposes a structure
once per group instead of once per trial; the table shows the best cross-validated and held-out
accuracy that leaves, and the studies' wall time.

Run: ``python bench/gpu_packing.py`` (a GPU: 33k x 64 rows, 20 epochs, 256 configurations per way);
on a CPU-only machine ``--rows 4000 --epochs 4 --configs 32 --processes 2 4 --fused 8 32``;
``--search --seeds 3 --trials 32 --search-k 8`` for the search's side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kubetune.components.core import EvaluationTarget  # noqa: E402

TARGET = EvaluationTarget("target", (), ("accuracy",), 4)
VAL_SIZE = 0.2
SEED = 0


def make_frame(rows: int, features: int) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows,
        n_features=features,
        n_informative=features // 2,
        n_classes=4,
        random_state=SEED,
    )
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"x{i}" for i in range(features)])
    frame["target"] = y
    return frame


def configurations(family_name: str, count: int, group: int, epochs: int) -> list[dict[str, Any]]:
    """``count`` configurations from the family's default space; the fused structure drawn once per
    ``group`` configurations. Epochs fixed, so every way trains for as long."""
    import optuna

    from kubetune.components.core import pin_params
    from kubetune.components.models import get_family
    from kubetune.components.search import suggest
    from kubetune.components.spec import ParamSpec

    family = get_family(family_name)
    space = {
        name: ParamSpec.model_validate(param)
        for name, param in family.default_space("classification").items()
        if name != "epochs"
    }
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=SEED))
    drawn: list[dict[str, Any]] = []
    structure: dict[str, Any] = {}
    for index in range(count):
        trial = study.ask()
        if family.fused_structure and index % group:
            pin_params(trial, structure)  # as the controller pins a fused group's structure
        params = suggest(trial, space)
        study.tell(trial, 0.0)
        if family.fused_structure and index % group == 0:
            structure = {n: params[n] for n in family.fused_structure if n in params}
        drawn.append({**params, "epochs": epochs})
    return drawn


# every way trains on the same rows and scores on the same validation rows
HOLDOUT = {"target": TARGET, "strategy": "holdout", "folds": 1, "val_size": VAL_SIZE, "seed": SEED}


def score_alone(args: tuple[str, dict[str, Any], pd.DataFrame]) -> tuple[float, float]:
    """One configuration trained and scored alone, as a one-trial worker runs it: its score and the
    CPU seconds its process spent on it."""
    from kubetune.components.evaluation import cross_validate
    from kubetune.components.models import get_family

    family_name, params, frame = args
    cpu = time.process_time()
    result = cross_validate(
        get_family(family_name).build(params, "classification", SEED),
        frame,
        **HOLDOUT,
    )
    return result.mean("accuracy"), time.process_time() - cpu


def limit_threads(threads: int) -> None:
    """A pool process's share of the cores, as the local executor gives each worker process."""
    import torch

    torch.set_num_threads(threads)


def synchronize() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()


def one_per_worker(
    family: str, configs: list[dict[str, Any]], frame: pd.DataFrame
) -> tuple[list[float], float, float]:
    """Scores, wall and CPU seconds of one trial at a time, after one warm-up trial (imports, the
    first kernels) that is not counted, as a worker that has run a trial before."""
    score_alone((family, configs[0] | {"epochs": 1}, frame))
    synchronize()
    started = time.perf_counter()
    outcomes = [score_alone((family, params, frame)) for params in configs]
    synchronize()
    return [s for s, _ in outcomes], time.perf_counter() - started, sum(c for _, c in outcomes)


def processes(
    family: str, configs: list[dict[str, Any]], frame: pd.DataFrame, k: int
) -> tuple[list[float], float, float]:
    """Scores, wall and CPU seconds of K processes training the list; the pool is started and its
    imports warmed before the clock starts. CPU: what each process spent on its trials, added up."""
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // k)
    with ProcessPoolExecutor(
        k,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=limit_threads,
        initargs=(threads,),
    ) as pool:
        list(pool.map(score_alone, [(family, configs[0] | {"epochs": 1}, frame)] * k))
        started = time.perf_counter()
        outcomes = list(pool.map(score_alone, [(family, p, frame) for p in configs]))
        wall = time.perf_counter() - started
    return [s for s, _ in outcomes], wall, sum(c for _, c in outcomes)


def fused(
    family: str, configs: list[dict[str, Any]], frame: pd.DataFrame, k: int
) -> tuple[list[float], float, float]:
    from kubetune.components.evaluation import cross_validate_fused
    from kubetune.components.models import get_family

    built = get_family(family)
    scores: list[float] = []
    synchronize()
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(configs), k):
        group = configs[start : start + k]
        outcomes = cross_validate_fused(
            [built.build(p, "classification", SEED) for p in group],
            frame,
            **HOLDOUT,
            on_fold=[None] * len(group),
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            scores.append(outcome.mean("accuracy"))
    synchronize()
    return scores, time.perf_counter() - started, time.process_time() - cpu


def measure(way: str, run: Any) -> dict[str, Any]:
    scores, wall, used = run()
    return {"way": way, "scores": scores, "wall": wall, "cpu": used}


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    return f"CPU only, {os.cpu_count()} cores (torch {torch.__version__})"


def table(family: str, rows: list[dict[str, Any]]) -> list[str]:
    base = rows[0]
    lines = []
    for row in rows:
        n = len(row["scores"])
        per_device = n / (row["wall"] / 3600)
        per_cpu = n / (row["cpu"] / 3600) if row["cpu"] > 0 else float("nan")
        gaps = [abs(a - b) for a, b in zip(row["scores"], base["scores"])]
        lines.append(
            f"| {family} | {row['way']} | {n} | {row['wall']:.1f} | {per_device:,.0f} | "
            f"{per_device / (len(base['scores']) / (base['wall'] / 3600)):.1f}x | {per_cpu:,.0f} | "
            f"{max(row['scores']):.4f} | {statistics.median(row['scores']):.4f} | "
            f"{statistics.median(gaps):.4f} / {max(gaps):.4f} |"
        )
    return lines


def search_effect(seeds: int, trials: int, k: int, epochs: int) -> None:
    """Best CV and held-out accuracy and wall time of whole studies, alone vs fused groups of k."""
    import tempfile

    import kubetune

    print(
        f"\n## What grouping does to the search: sklearn:digits, torch_mlp ({epochs} epochs), "
        f"{trials} trials, TPE, 3-fold CV, one worker; {seeds} seeds\n"
    )
    print(
        "| way | median best CV accuracy | median held-out accuracy | median wall s | per seed (best CV) |"
    )
    print("|---|---|---|---|---|")
    ways = {
        "each trial alone": {"trials": 1},
        f"fused groups of {k}": {"trials": k, "mode": "fused"},
    }
    for way, packing in ways.items():
        best, held_out, walls = [], [], []
        for seed in range(seeds):
            with tempfile.TemporaryDirectory(prefix="packing-search-") as folder:
                os.chdir(folder)
                started = time.perf_counter()
                result = kubetune.tune(
                    {
                        "study": f"digits-{packing['trials']}-{seed}",
                        "data": {"source": "sklearn:digits"},
                        "model": {"family": "torch_mlp", "params": {"epochs": epochs}},
                        "objective": {"metric": "accuracy"},
                        "validation": {"strategy": "stratified_kfold", "folds": 3},
                        "search": {"sampler": "tpe", "n_trials": trials, "seed": seed},
                        "executor": {"packing": packing},
                        "tracking": {"mlflow_uri": f"sqlite:///{folder}/mlflow.db"},
                        "warm_start": "none",
                        "analysis": "none",
                    },
                    progress=False,
                )
                walls.append(time.perf_counter() - started)
                best.append(result.cv["cv_accuracy"])
                held_out.append(result.test["test_accuracy"])
        print(
            f"| {way} | {statistics.median(best):.4f} | {statistics.median(held_out):.4f} | "
            f"{statistics.median(walls):.0f} | {', '.join(f'{b:.4f}' for b in best)} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=33_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--configs", type=int, default=256)
    parser.add_argument("--processes", type=int, nargs="*", default=[4, 8, 16, 32])
    parser.add_argument("--fused", type=int, nargs="*", default=[8, 32, 128, 256])
    parser.add_argument("--families", nargs="+", default=["torch_mlp", "torch_nas"])
    parser.add_argument("--search", action="store_true", help="what grouping does to the search")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--search-k", type=int, default=8)
    args = parser.parse_args()
    if args.search:
        search_effect(args.seeds, args.trials, args.search_k, args.epochs)
        return
    frame = make_frame(args.rows, args.features)
    print(
        f"## {device_name()}: {args.rows:,} x {args.features} rows (4 classes, 20% validation), "
        f"{args.epochs} epochs, {args.configs} configurations per way\n"
    )
    print(
        "| family | way | trials | wall s | trials per device-hour | vs one per worker | "
        "trials per CPU-hour | best val. accuracy | median val. accuracy | "
        "per-config gap to one per worker, median / max |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    from kubetune.components.models import get_family

    for family in args.families:
        fuses = get_family(family).fused_structure is not None
        largest = max(args.fused) if fuses and args.fused else 1
        configs = configurations(family, args.configs, largest, args.epochs)
        rows = [measure("one per worker", lambda: one_per_worker(family, configs, frame))]
        for k in args.processes:
            rows.append(measure(f"processes {k}", lambda k=k: processes(family, configs, frame, k)))
        for k in args.fused if fuses else []:
            rows.append(measure(f"fused {k}", lambda k=k: fused(family, configs, frame, k)))
        print("\n".join(table(family, rows)), flush=True)


if __name__ == "__main__":
    main()
