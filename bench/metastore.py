"""How long a tuning job waits on the meta-store before its first trial, as the MLflow store's history grows.

The warm start reads every finished study from the tracking store (components/metastore.py): one paged
query for the studies' parent runs, then, for each study not in the local cache, one query for its best
trial runs. On a laptop the cache persists between runs; in Kubernetes a controller pod's cache folder is
an emptyDir, so every job reads the whole history from MLflow. This measures both cases against a real
``mlflow server`` with a PostgreSQL backend, and compares fetching the uncached studies one after another
with fetching them concurrently (``--threads``), side by side in one run.

The history is synthetic but shaped like kubetune's own runs (the parent run's params, tags and 18
``meta.*`` metrics; per trial 5 params, 7 tags and 11 metrics), written straight into the MLflow schema
with COPY so that building thousands of runs takes seconds (experiments and one template run go through
MLflow's own store, so the rows match what MLflow writes).

Usage (from the repository root; PostgreSQL must be running):
    python bench/metastore.py [--studies 50 200] [--trials 100] [--repeats 3] [--threads 8]
                              [--server-workers 2] [--pg-admin postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DO_NOT_TRACK", "1")

STUDIES_PER_EXPERIMENT = 5  # a pipeline re-run on a schedule keeps its studies in one experiment
TRIAL_PARAMS = ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf", "l2_regularization")
META = (
    "n_rows", "n_features", "dimensionality", "n_numeric", "n_categorical", "categorical_ratio", "missing_ratio",
    "rows_with_missing_ratio", "skew_abs_mean", "skew_abs_max", "kurtosis_mean", "kurtosis_max", "class_entropy",
    "imbalance_ratio", "n_classes", "landmark_stump", "landmark_1nn", "landmark_naive_bayes",
)


def positive_ints(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def create_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"kt_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_history(db_url: str, n_studies: int, n_trials: int, artifact_root: str) -> None:
    """``n_studies`` finished studies of ``n_trials`` COMPLETE trials each, in MLflow's schema."""
    import psycopg
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(db_url.replace("postgresql://", "postgresql+psycopg://", 1), artifact_root)  # creates the schema
    rng = random.Random(0)
    runs, tags, params, metrics = [], [], [], []
    now = int(time.time() * 1000)
    experiment_id = None
    for study_index in range(n_studies):
        if study_index % STUDIES_PER_EXPERIMENT == 0:
            experiment_id = int(store.create_experiment(f"pipeline-{study_index // STUDIES_PER_EXPERIMENT}"))
        parent = uuid.uuid4().hex
        study = f"study-{study_index:04d}"
        runs.append(_run_row(parent, study, experiment_id, artifact_root, now))
        params += [(k, v, parent) for k, v in {
            "model_family": "hist_gradient_boosting", "metric": "log_loss", "direction": "minimize", "study": study,
            "task": "classification", "n_trials": str(n_trials), "sampler": "gp", "executor": "kubernetes",
            "data_source": f"s3://data/{study}.parquet", "validation_strategy": "kfold", "seed": "0",
        }.items()]
        tags += [(k, v, parent) for k, v in {
            "kubetune.role": "study", "kubetune.study": study, "kubetune.pipeline": f"pipeline-{study_index // STUDIES_PER_EXPERIMENT}",
            "mlflow.runName": study, "kubetune.warm_start.used": "cold", "kubetune.version.mlflow": "3",
        }.items()]
        metrics += [(f"meta.{name}", rng.random(), now, parent, 0, False) for name in META]
        for trial in range(n_trials):
            run_id = uuid.uuid4().hex
            runs.append(_run_row(run_id, f"trial-{trial:04d}", experiment_id, artifact_root, now))
            params += [(name, f"{rng.random():.6g}", run_id) for name in TRIAL_PARAMS]
            tags += [(k, v, run_id) for k, v in {
                "kubetune.role": "trial", "kubetune.study": study, "kubetune.trial_number": str(trial),
                "kubetune.trial_state": "COMPLETE", "kubetune.step_unit": "fold", "mlflow.parentRunId": parent,
                "mlflow.runName": f"trial-{trial:04d}",
            }.items()]
            score = rng.random()
            metrics += [("log_loss", score, now, run_id, 0, False)]
            metrics += [(f"log_loss_fold_{fold}", score + rng.random() / 10, now, run_id, 0, False) for fold in range(5)]
            metrics += [(name, rng.random(), now, run_id, 0, False) for name in ("log_loss_std", "duration_s", "fit_seconds_mean", "peak_memory_mb", "log_loss_curve")]
    with psycopg.connect(db_url) as connection, connection.cursor() as cursor:
        _copy(cursor, "runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)", runs)
        _copy(cursor, "tags (key, value, run_uuid)", tags)
        _copy(cursor, "params (key, value, run_uuid)", params)
        _copy(cursor, "metrics (key, value, timestamp, run_uuid, step, is_nan)", metrics)
        _copy(cursor, "latest_metrics (key, value, timestamp, run_uuid, step, is_nan)", metrics)
        cursor.execute("ANALYZE")


def _run_row(run_id: str, name: str, experiment_id: int, artifact_root: str, now: int) -> tuple:
    return (run_id, name, "LOCAL", "", "", "bench", "FINISHED", now, now + 1000, "", "active", f"{artifact_root}/{run_id}", experiment_id)


def _copy(cursor, table: str, rows: list[tuple]) -> None:  # noqa: ANN001 - a psycopg cursor
    with cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def start_mlflow_server(db_url: str, workdir: Path, workers: int) -> tuple[subprocess.Popen, str]:
    from tests.conftest import free_port, wait_for_http

    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri", db_url, "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers)],
        cwd=workdir, stdout=open(workdir / "mlflow-server.log", "w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/health", timeout=180, process=process)
    return process, url


def timed_read(url: str, cache_root: Path, threads: int) -> tuple[float, int]:
    from mlflow import MlflowClient

    from components.metastore import read_history

    started = time.perf_counter()
    studies = read_history(MlflowClient(url), url, cache_root, threads=threads)
    return time.perf_counter() - started, len(studies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=positive_ints, nargs="+", default=[50, 200], help="history sizes to measure")
    parser.add_argument("--trials", type=positive_ints, default=100, help="trials per past study")
    parser.add_argument("--repeats", type=positive_ints, default=3)
    parser.add_argument("--threads", type=positive_ints, default=8, help="concurrent study reads to compare with one")
    parser.add_argument("--server-workers", type=positive_ints, default=2, help="mlflow server workers (the Helm chart's default: 2)")
    parser.add_argument("--pg-admin", default=os.environ.get("KUBETUNE_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kubetune-bench-metastore-"))

    rows = []
    for n_studies in args.studies:
        name, db_url = create_database(args.pg_admin)
        process = None
        try:
            started = time.perf_counter()
            build_history(db_url, n_studies, args.trials, str(workdir / "artifacts"))
            built = time.perf_counter() - started
            process, url = start_mlflow_server(db_url, workdir, args.server_workers)
            timings: dict[str, list[float]] = {"one": [], "many": [], "cached": []}
            for repeat in range(args.repeats):
                for kind, threads in (("one", 1), ("many", args.threads)):  # side by side, each from an empty cache
                    seconds, found = timed_read(url, workdir / f"cache-{n_studies}-{repeat}-{kind}", threads)
                    if found != n_studies:
                        raise SystemExit(f"read {found} studies, expected {n_studies}")
                    timings[kind].append(seconds)
                seconds, found = timed_read(url, workdir / f"cache-{n_studies}-{repeat}-many", 1)  # now cached
                timings["cached"].append(seconds)
            rows.append((n_studies, built, {k: statistics.median(v) for k, v in timings.items()}, timings))
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
            drop_database(args.pg_admin, name)

    print(f"| past studies (x {args.trials} trials) | empty cache, 1 reader (s) | empty cache, {args.threads} readers (s) | ratio | cache filled (s) | all repeats (1 / {args.threads} / cached) |")
    print("|---|---|---|---|---|---|")
    for n_studies, _, median, timings in rows:
        repeats = "; ".join(f"{a:.2f} / {b:.2f} / {c:.2f}" for a, b, c in zip(timings["one"], timings["many"], timings["cached"]))
        print(f"| {n_studies} | {median['one']:.2f} | {median['many']:.2f} | {median['one'] / median['many']:.1f}x | {median['cached']:.2f} | {repeats} |")


if __name__ == "__main__":
    main()
