"""KubetuneSearchCV against scikit-learn's RandomizedSearchCV and Optuna's OptunaSearchCV.

Part 1, quality and time: the same estimator, space, budget, folds and held-out rows for every method on
scikit-learn's bundled datasets (an RBF SVM on three classification tables, an RBF SVR on one
regression table), several seeds, the methods interleaved within each seed so machine noise falls on
all of them alike. Reported per method: mean rank of the held-out score (1 best, per dataset and seed),
median best CV score, median held-out score and the median wall time relative to RandomizedSearchCV.

Part 2, overhead per candidate on the local executor: a model that fits in about a millisecond
(RidgeClassifier on 300 rows), 100 candidates, 3 folds, one process, so the difference in wall time to
RandomizedSearchCV is what the search machinery costs per candidate; medians of repeated runs.

Run: ``.venv/bin/python bench/search_cv.py [--seeds 3] [--trials 25] [--repeats 5]``
(needs optuna-integration for OptunaSearchCV: ``make install-bench``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import optuna
from scipy.stats import loguniform
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_wine,
    make_classification,
)
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import RandomizedSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubetune import KubetuneSearchCV

DATASETS = {
    "breast_cancer": (load_breast_cancer, "classification"),
    "wine": (load_wine, "classification"),
    "digits": (load_digits, "classification"),
    "diabetes": (load_diabetes, "regression"),
}
BOUNDS = {"C": (1e-2, 1e3), "gamma": (1e-4, 1.0), "epsilon": (1e-3, 1.0)}


def problem(name: str):
    loader, task = DATASETS[name]
    X, y = loader(return_X_y=True)
    if task == "classification":
        return X, y, make_pipeline(StandardScaler(), SVC()), ["C", "gamma"], "accuracy"
    return X, y, make_pipeline(StandardScaler(), SVR()), ["C", "gamma", "epsilon"], "r2"


def methods(estimator, names, scoring, trials, seed):
    step = type(estimator.steps[-1][1]).__name__.lower()
    kubetune_space = {
        f"{step}__{n}": {"type": "float", "low": BOUNDS[n][0], "high": BOUNDS[n][1], "log": True}
        for n in names
    }
    common = dict(cv=5, scoring=scoring, n_jobs=1)
    from optuna_integration import OptunaSearchCV

    yield (
        "RandomizedSearchCV",
        RandomizedSearchCV(
            estimator,
            {f"{step}__{n}": loguniform(*BOUNDS[n]) for n in names},
            n_iter=trials,
            random_state=seed,
            **common,
        ),
    )
    yield (
        "OptunaSearchCV (TPE)",
        OptunaSearchCV(
            estimator,
            {
                f"{step}__{n}": optuna.distributions.FloatDistribution(*BOUNDS[n], log=True)
                for n in names
            },
            n_trials=trials,
            random_state=seed,
            verbose=0,
            **common,
        ),
    )
    for sampler in ("tpe", "auto"):
        yield (
            f"KubetuneSearchCV ({sampler})",
            KubetuneSearchCV(
                estimator,
                kubetune_space,
                n_trials=trials,
                sampler=sampler,
                random_state=seed,
                **common,
            ),
        )


def quality(seeds: int, trials: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: dict[str, dict[str, list[float]]] = {}
    for name in DATASETS:
        X, y, estimator, names, scoring = problem(name)
        for seed in range(seeds):
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.25, random_state=seed
            )
            held_out: dict[str, float] = {}
            wall: dict[str, float] = {}
            for label, search in methods(estimator, names, scoring, trials, seed):
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    search.fit(X_train, y_train)
                wall[label] = time.perf_counter() - started
                held_out[label] = float(search.score(X_test, y_test))
                stats = rows.setdefault(label, {"cv": [], "test": [], "ratio": [], "rank": []})
                stats["cv"].append(float(search.best_score_))
                stats["test"].append(held_out[label])
            order = sorted(held_out, key=lambda k: -held_out[k])
            for label in held_out:
                rows[label]["rank"].append(
                    statistics.mean(
                        i + 1 for i, k in enumerate(order) if held_out[k] == held_out[label]
                    )
                )
                rows[label]["ratio"].append(wall[label] / wall["RandomizedSearchCV"])
            print(
                f"  {name} seed {seed}: "
                + ", ".join(f"{k} {held_out[k]:.4f} in {wall[k]:.1f} s" for k in held_out),
                file=sys.stderr,
            )
    print(f"\n{len(DATASETS)} datasets x {seeds} seeds, {trials} candidates, 5-fold CV, n_jobs=1\n")
    print(
        "| method | mean rank of held-out score | median best CV | median held-out | wall time vs RandomizedSearchCV, median (range) |"
    )
    print("|---|---|---|---|---|")
    for label, stats in rows.items():
        print(
            f"| {label} | {statistics.mean(stats['rank']):.2f} | {statistics.median(stats['cv']):.4f} | "
            f"{statistics.median(stats['test']):.4f} | {statistics.median(stats['ratio']):.2f}x "
            f"({min(stats['ratio']):.2f}-{max(stats['ratio']):.2f}) |"
        )


def overhead(repeats: int) -> None:
    X, y = make_classification(300, 20, random_state=0)
    estimator = RidgeClassifier()
    candidates = 100
    times: dict[str, list[float]] = {}
    for repeat in range(repeats):
        searches = {
            "RandomizedSearchCV": RandomizedSearchCV(
                estimator,
                {"alpha": loguniform(1e-3, 1e3)},
                n_iter=candidates,
                cv=3,
                random_state=repeat,
            ),
            **{
                f"KubetuneSearchCV ({sampler})": KubetuneSearchCV(
                    estimator,
                    {"alpha": {"type": "float", "low": 1e-3, "high": 1e3, "log": True}},
                    n_trials=candidates,
                    cv=3,
                    sampler=sampler,
                    random_state=repeat,
                )
                for sampler in ("random", "tpe")
            },
        }
        for label, search in searches.items():
            started = time.perf_counter()
            search.fit(X, y)
            times.setdefault(label, []).append(time.perf_counter() - started)
    base = statistics.median(times["RandomizedSearchCV"])
    print(
        f"\nOverhead per candidate: RidgeClassifier, 300 rows, {candidates} candidates, 3 folds, {repeats} repeats\n"
    )
    print(
        "| method | median wall time | per candidate | overhead per candidate vs RandomizedSearchCV |"
    )
    print("|---|---|---|---|")
    for label, values in times.items():
        median = statistics.median(values)
        print(
            f"| {label} | {median:.2f} s | {1000 * median / candidates:.1f} ms | "
            f"{1000 * (median - base) / candidates:+.1f} ms |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--part", choices=["all", "quality", "overhead"], default="all")
    args = parser.parse_args()
    np.seterr(all="ignore")
    if args.part in ("all", "overhead"):
        overhead(args.repeats)
    if args.part in ("all", "quality"):
        quality(args.seeds, args.trials)


if __name__ == "__main__":
    main()
