"""What the sampler costs the controller per trial: the Gaussian process against TPE, as kubetune builds them.

``sampler: auto`` gives an all-numeric space such as gradient boosting's a Gaussian process for budgets
up to ``kubetune.components.search.samplers.GP_MAX_TRIALS`` trials. The GP refits its kernel and optimizes its acquisition
function on every ask, so its cost grows with the trials told; TPE's hardly does. The controller asks for
every trial in one process, so the sampler's time is paid once per trial whatever the parallelism, and at
parallelism P the GP also conditions on the P - 1 trials still running (Optuna 5's q-batch acquisition).

Both samplers run side by side in one process on gradient boosting's default space with a cheap smooth
objective (the distance to a fixed point in the unit cube, plus noise), so the objective's own time does
not enter the measure and the GP's kernel fit sees a landscape with structure. At parallelism P the
study keeps P trials asked and not yet told, as a controller with P busy workers does. Reported: the
median time of one ask (``study.ask()`` plus the suggestions, kubetune.components.search.space.suggest) in windows of the
study, and the sampler's whole time per study. Beside it, the median time of one real gradient-boosting
trial (kubetune's 5-fold cross-validation on scikit-learn's breast_cancer, configurations drawn at random
from the same space), so the sampler's share of a study can be read off.

Run: ``.venv/bin/python bench/sampler_cost.py [--trials 200] [--seeds 3] [--parallelism 1 4]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault(
    "OMP_NUM_THREADS", "1"
)  # as a controller on a busy node: no thread pool to hide the cost

import numpy as np
import optuna

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubetune.components.core import EvaluationTarget
from kubetune.components.models import get_family
from kubetune.components.search import Space, resolve_space, suggest
from kubetune.components.search.samplers import build_sampler
from kubetune.components.spec import parse_spec

FAMILY = "hist_gradient_boosting"
SAMPLERS = ("tpe", "gp")


def family_space() -> Space:
    spec = parse_spec(
        {
            "data": {"source": "sklearn:breast_cancer"},
            "model": {"family": FAMILY},
            "objective": {"metric": "log_loss"},
        }
    )
    return resolve_space(spec, "classification")


def smooth_objective(params: dict, space: Space, rng: np.random.Generator) -> float:
    """Squared distance of ``params`` (each on its unit, log where the parameter is log) to 0.3, plus noise."""
    total = 0.0
    for name, param in space.items():
        low, high, value = float(param.low), float(param.high), float(params[name])
        if param.log:
            low, high, value = np.log(low), np.log(high), np.log(value)
        total += ((value - low) / (high - low) - 0.3) ** 2
    return total + float(rng.normal(0, 0.01))


def ask_times(name: str, space: Space, n_trials: int, seed: int, parallelism: int) -> list[float]:
    """Seconds per ask over one study of ``n_trials``, ``parallelism`` trials in flight at each ask."""
    sampler = build_sampler(name, space, seed, n_objectives=1, parallelism=parallelism)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    rng = np.random.default_rng(seed)
    pending: list[tuple[optuna.trial.Trial, dict]] = []
    times = []
    for _ in range(n_trials):
        if len(pending) == parallelism:  # a worker is free only when its trial is told
            trial, params = pending.pop(0)
            study.tell(trial, smooth_objective(params, space, rng))
        started = time.perf_counter()
        trial = study.ask()
        params = suggest(trial, space)
        times.append(time.perf_counter() - started)
        pending.append((trial, params))
    return times


def trial_seconds(space: Space, n: int) -> float:
    """Median seconds of one real gradient-boosting trial: kubetune's 5-fold CV on breast_cancer."""
    import sklearn.datasets

    from kubetune.components.evaluation import cross_validate

    data = sklearn.datasets.load_breast_cancer(as_frame=True)
    frame = data.data.assign(target=data.target)
    family = get_family(FAMILY)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seconds = []
    for _ in range(n):
        params = suggest(study.ask(), space)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cross_validate(
                family.build(params, "classification", 0),
                frame,
                target=EvaluationTarget("target", (), ("log_loss",), 2),
                strategy="stratified_kfold",
                folds=5,
                val_size=0.2,
                seed=0,
            )
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def windows(n_trials: int, width: int = 50) -> list[tuple[int, int]]:
    return [(start, min(start + width, n_trials)) for start in range(0, n_trials, width)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[1, 4])
    parser.add_argument(
        "--real-trials",
        type=int,
        default=10,
        help="real gradient-boosting trials timed for the comparison",
    )
    args = parser.parse_args()
    if min(args.trials, args.seeds, args.real_trials, *args.parallelism) < 1:
        parser.error("--trials, --seeds, --parallelism and --real-trials must be at least 1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    space = family_space()
    started = time.perf_counter()
    results: dict[tuple[str, int], list[list[float]]] = {}
    for parallelism in args.parallelism:
        for seed in range(args.seeds):
            for name in SAMPLERS:  # side by side: both samplers of a seed one after the other
                results.setdefault((name, parallelism), []).append(
                    ask_times(name, space, args.trials, seed, parallelism)
                )
    real = trial_seconds(space, args.real_trials)
    elapsed = time.perf_counter() - started
    spans = windows(args.trials)
    print(
        f"# sampler cost: {FAMILY} default space ({len(space)} numeric parameters), {args.trials} trials, {args.seeds} seeds, {elapsed:.0f} s\n"
    )
    header = " | ".join(f"trials {a + 1}-{b}" for a, b in spans)
    print(
        f"| sampler | parallelism | median ask, ms: {header} | sampler seconds per study (median) |"
    )
    print("|---|---|" + "---|" * len(spans) + "---|")
    for (name, parallelism), studies in results.items():
        cells = " | ".join(
            f"{1000 * statistics.median(t for times in studies for t in times[a:b]):.1f}"
            for a, b in spans
        )
        total = statistics.median(sum(times) for times in studies)
        print(f"| {name} | {parallelism} | {cells} | {total:.1f} |")
    print(
        f"\nOne real {FAMILY} trial (5-fold CV, breast_cancer, median of {args.real_trials} random configurations): {real:.2f} s"
    )


if __name__ == "__main__":
    main()
