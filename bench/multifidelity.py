"""Multi-fidelity early stopping: epochs spent until the incumbent reaches a target regret, by pruner.

kubetune's own pieces decide everything that is measured: the sampler (kubetune.components.search.samplers: multivariate
TPE), the pruners built from a spec's ``search.pruner`` with kubetune's defaults
(kubetune.components.search.pruners.resolve_pruner / build_pruner), and, for the real model, the family, learning
curve and scoring (kubetune.components.evaluation.fidelity through kubetune.components.evaluation.cross_validation.cross_validate). Trials run one at
a time in one process so that the epoch count, not the machine, is the measure.

1. MF-Hartmann 6-D (mf-prior-bench 1.10.0, analytic, no download; fidelity = epochs 1..100, default
   bias/noise). Regret = best value among trials that ran to epoch 100 minus the global minimum
   (-3.32237). Target regret <= 0.5; each run is capped at 20,000 epochs.
2. A real PyTorch model: kubetune's ``torch_mlp`` space (epochs fixed at 27) on scikit-learn's digits,
   holdout accuracy, pruned with the settings kubetune resolves for that family (its fidelity: a first
   rung of a ninth of the epochs, one in three goes on). Regret = best accuracy seen at full training in this benchmark run (all pruners,
   all seeds) minus the incumbent's; target regret <= 0.01; each run is capped at ``--torch-budget``
   epochs (censored runs count as the cap).

Run: ``make install-bench`` then ``.venv/bin/python bench/multifidelity.py --seeds 10 --torch-seeds 10
--torch-budget 1000`` (the figures in docs/benchmarks.md; about 13 minutes on 2 cores, nearly all of it
the PyTorch half; ``--skip-torch`` for MF-Hartmann alone in seconds). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubetune.components.core import EvaluationTarget
from kubetune.components.models import Fidelity
from kubetune.components.search import build_pruner, resolve_pruner
from kubetune.components.search.samplers import build_sampler
from kubetune.components.spec import ParamSpec, PrunerSpec

PRUNERS = ["none", "median", "successive_halving", "hyperband"]
DEFAULT_MF = "successive_halving"  # kubetune's default multi-fidelity setting: `search.pruner: successive_halving`
HARTMANN_MIN = -3.32237
EPOCHS = Fidelity(param="epochs", unit="epoch", step=1)


def pruner_for(
    kind: str, max_epochs: int, fidelity: Fidelity = EPOCHS
) -> optuna.pruners.BasePruner:
    """The pruner ``search.pruner: <kind>`` gives a study whose family trains in ``fidelity``'s steps."""
    space = {"epochs": ParamSpec(type="int", low=1, high=max_epochs)}
    return build_pruner(resolve_pruner(PrunerSpec(kind=kind), fidelity, space, {}, folds=5))


def hartmann_run(kind: str, seed: int, target: float = 0.5, cap: int = 20_000) -> dict:
    import mfpbench

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    bench = mfpbench.MFHartmann6Benchmark(seed=seed)
    space = {f"X_{i}": ParamSpec(type="float", low=0.0, high=1.0) for i in range(6)}
    study = optuna.create_study(
        study_name=f"mfh6-{kind}-{seed}",
        sampler=build_sampler("tpe", space, seed, 1, 1),
        pruner=pruner_for(kind, 100),
    )
    spent, best, trials = 0, float("inf"), 0
    while spent < cap:
        trial = study.ask()
        trials += 1
        config = {name: trial.suggest_float(name, 0.0, 1.0) for name in space}
        for epoch in range(1, 101):
            value = bench.query(config, at=epoch).value.value
            spent += 1
            trial.report(value, epoch)
            if epoch < 100 and trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, value)
            best = min(best, value)
            if best - HARTMANN_MIN <= target:
                return {
                    "pruner": kind,
                    "seed": seed,
                    "epochs": spent,
                    "trials": trials,
                    "reached": True,
                }
    return {"pruner": kind, "seed": seed, "epochs": spent, "trials": trials, "reached": False}


def torch_run(kind: str, seed: int, budget: int, max_epochs: int = 27) -> dict:
    """Every (epochs spent, full-training accuracy) of one study; regret is computed once all runs are in."""
    import torch
    from threadpoolctl import threadpool_limits

    from kubetune.components.data.frames import read_source
    from kubetune.components.evaluation import cross_validate
    from kubetune.components.models import get_family
    from kubetune.components.search import resolve_space, suggest
    from kubetune.components.spec import parse_spec

    torch.set_num_threads(1)
    threadpool_limits(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    frame = read_source("sklearn:digits")
    spec = parse_spec(
        {
            "data": {"source": "sklearn:digits"},
            "model": {"family": "torch_mlp", "params": {"epochs": max_epochs}},
            "objective": {"metric": "accuracy"},
        }
    )
    space = resolve_space(spec, "classification")
    family = get_family("torch_mlp")
    study = optuna.create_study(
        study_name=f"digits-{kind}-{seed}",
        direction="maximize",
        sampler=build_sampler("tpe", space, seed, 1, 1),
        pruner=pruner_for(kind, max_epochs, family.fidelity),
    )
    spent, finished, started = 0, [], time.perf_counter()
    while spent < budget:
        trial = study.ask()
        params = suggest(trial, space) | {"epochs": max_epochs, "device": "cpu"}
        reached = [0]

        def on_step(step: int, value: float) -> None:
            reached[0] = step
            trial.report(value, step)
            if step < max_epochs and trial.should_prune():
                raise optuna.TrialPruned()

        try:
            cv = cross_validate(
                family.build(params, "classification", seed),
                frame,
                target=EvaluationTarget("target", (), ("accuracy",), 10),
                strategy="holdout",
                folds=2,
                val_size=0.25,
                seed=seed,
                fidelity=family.fidelity,
                on_step=on_step,
            )
            spent += max_epochs
            study.tell(trial, cv.mean("accuracy"))
            finished.append((spent, cv.mean("accuracy")))
        except optuna.TrialPruned:
            spent += reached[0]
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    return {
        "pruner": kind,
        "seed": seed,
        "finished": finished,
        "budget": budget,
        "seconds": time.perf_counter() - started,
    }


def epochs_to_regret(run: dict, best_known: float, target: float) -> tuple[int, bool]:
    incumbent = -1.0
    for spent, accuracy in run["finished"]:
        incumbent = max(incumbent, accuracy)
        if best_known - incumbent <= target:
            return spent, True
    return run["budget"], False


def table(rows: list[tuple[str, list[int], int]], reference: float) -> str:
    lines = [
        "| pruner | median epochs | min / max | reached target | vs no pruning |",
        "|---|---|---|---|---|",
    ]
    for kind, epochs, reached in rows:
        median = statistics.median(epochs)
        lines.append(
            f"| {kind}{' (default)' if kind == DEFAULT_MF else ''} | {median:,.0f} | {min(epochs):,} / {max(epochs):,} | {reached}/{len(epochs)} | {reference / median:.1f}x fewer |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--torch-seeds", type=int, default=5)
    parser.add_argument("--torch-budget", type=int, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        jobs = {(k, s): pool.submit(hartmann_run, k, s) for k in PRUNERS for s in range(args.seeds)}
        hartmann = {key: job.result() for key, job in jobs.items()}
    rows = [
        (
            k,
            [hartmann[(k, s)]["epochs"] for s in range(args.seeds)],
            sum(hartmann[(k, s)]["reached"] for s in range(args.seeds)),
        )
        for k in PRUNERS
    ]
    print(
        f"## MF-Hartmann 6-D: epochs until regret <= 0.5 ({args.seeds} seeds, {time.perf_counter() - started:.0f} s)\n"
    )
    print(table(rows, statistics.median(rows[0][1])))
    if args.skip_torch:
        return
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        jobs = {
            (k, s): pool.submit(torch_run, k, s, args.torch_budget)
            for k in PRUNERS
            for s in range(args.torch_seeds)
        }
        runs = {key: job.result() for key, job in jobs.items()}
    best_known = max(acc for run in runs.values() for _, acc in run["finished"])
    rows = []
    for kind in PRUNERS:
        measured = [
            epochs_to_regret(runs[(kind, s)], best_known, 0.01) for s in range(args.torch_seeds)
        ]
        rows.append((kind, [m[0] for m in measured], sum(m[1] for m in measured)))
    print(
        f"\n## torch_mlp on digits: epochs until accuracy regret <= 0.01 (best known {best_known:.4f}; {args.torch_seeds} seeds, "
        f"budget {args.torch_budget} epochs, {time.perf_counter() - started:.0f} s)\n"
    )
    print(table(rows, statistics.median(rows[0][1])))
    for kind in PRUNERS:
        trials = [len(runs[(kind, s)]["finished"]) for s in range(args.torch_seeds)]
        print(f"- {kind}: full-length trials per run {trials}")


if __name__ == "__main__":
    main()
