"""How long a tuning job waits on the meta-store before its first trial, as the MLflow store's history grows.

The warm start reads every finished study from the tracking store (components/warmstart/metastore.py): one paged
query for the studies' parent runs, then, for each study not in the local cache, its best trials. On a
laptop the cache persists between runs; in Kubernetes a controller pod's cache folder is an emptyDir, so
every job reads the whole history from MLflow. Measured side by side in one run, against a real ``mlflow
server`` (PostgreSQL backend store, artifacts served by the server from a local folder), each read from
an empty cache: the best trials queried from the trial runs one study after another (kubetune before the
record artifact), the same queries concurrently (``--threads``), the studies' record artifacts read
concurrently (what kubetune does now), and a read with the cache filled. The script checks that every
way reads the same history.

The history is synthetic but shaped like kubetune's own runs (the parent run's params, tags and 18
``meta.*`` metrics; per trial 5 params, 7 tags and 11 metrics; the record artifact a study writes as it
ends), written straight into the MLflow schema with COPY so that building thousands of runs takes seconds
(experiments go through MLflow's own store, so the schema is MLflow's).

Usage (from the repository root; PostgreSQL must be running):
    python bench/metastore.py [--studies 50 200] [--trials 100] [--repeats 3] [--threads 8]
                              [--server-workers 2] [--pg-admin postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
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

from bench.postgres import create_database, drop_database  # noqa: E402 - after the path is set

os.environ.setdefault("DO_NOT_TRACK", "1")

STUDIES_PER_EXPERIMENT = 5  # a pipeline re-run on a schedule keeps its studies in one experiment
TRIAL_PARAMS = (
    "learning_rate",
    "max_iter",
    "max_leaf_nodes",
    "min_samples_leaf",
    "l2_regularization",
)
META = (
    "n_rows",
    "n_features",
    "dimensionality",
    "n_numeric",
    "n_categorical",
    "categorical_ratio",
    "missing_ratio",
    "rows_with_missing_ratio",
    "skew_abs_mean",
    "skew_abs_max",
    "kurtosis_mean",
    "kurtosis_max",
    "class_entropy",
    "imbalance_ratio",
    "n_classes",
    "landmark_stump",
    "landmark_1nn",
    "landmark_naive_bayes",
)


def positive_ints(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_history(db_url: str, n_studies: int, n_trials: int, artifact_dir: Path) -> None:
    """``n_studies`` finished studies of ``n_trials`` COMPLETE trials each, in MLflow's schema, each with
    the record artifact kubetune writes as a study ends (in the folder the server serves artifacts from)."""
    import psycopg
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from kubetune.components.core import META_STORE_RECORD_TAG
    from kubetune.components.warmstart.metastore import (
        CACHED_CONFIGS,
        RECORD_ARTIFACT,
        RECORD_VERSION,
    )

    store = SqlAlchemyStore(
        db_url.replace("postgresql://", "postgresql+psycopg://", 1), "mlflow-artifacts:/"
    )  # creates the schema
    rng = random.Random(0)
    runs, tags, params, metrics = [], [], [], []
    now = int(time.time() * 1000)
    experiment_id = None
    for study_index in range(n_studies):
        if study_index % STUDIES_PER_EXPERIMENT == 0:
            experiment_id = int(
                store.create_experiment(f"pipeline-{study_index // STUDIES_PER_EXPERIMENT}")
            )
        parent = uuid.uuid4().hex
        study = f"study-{study_index:04d}"
        runs.append(_run_row(parent, study, experiment_id, now))
        trial_configs = []
        params += [
            (k, v, parent)
            for k, v in {
                "model_family": "hist_gradient_boosting",
                "metric": "log_loss",
                "direction": "minimize",
                "study": study,
                "task": "classification",
                "n_trials": str(n_trials),
                "sampler": "gp",
                "executor": "kubernetes",
                "data_source": f"s3://data/{study}.parquet",
                "validation_strategy": "kfold",
                "seed": "0",
            }.items()
        ]
        tags += [
            (k, v, parent)
            for k, v in {
                "kubetune.role": "study",
                "kubetune.study": study,
                "kubetune.pipeline": f"pipeline-{study_index // STUDIES_PER_EXPERIMENT}",
                "mlflow.runName": study,
                "kubetune.warm_start.used": "cold",
                "kubetune.version.mlflow": "3",
                META_STORE_RECORD_TAG: RECORD_ARTIFACT,
            }.items()
        ]
        metrics += [(f"meta.{name}", rng.random(), now, parent, 0, False) for name in META]
        for trial in range(n_trials):
            run_id = uuid.uuid4().hex
            runs.append(_run_row(run_id, f"trial-{trial:04d}", experiment_id, now))
            values = {name: f"{rng.random():.6g}" for name in TRIAL_PARAMS}
            params += [(name, value, run_id) for name, value in values.items()]
            tags += [
                (k, v, run_id)
                for k, v in {
                    "kubetune.role": "trial",
                    "kubetune.study": study,
                    "kubetune.trial_number": str(trial),
                    "kubetune.trial_state": "COMPLETE",
                    "kubetune.step_unit": "fold",
                    "mlflow.parentRunId": parent,
                    "mlflow.runName": f"trial-{trial:04d}",
                }.items()
            ]
            score = rng.random()
            metrics += [("log_loss", score, now, run_id, 0, False)]
            trial_configs.append({"params": values, "score": score, "run_id": run_id})
            metrics += [
                (f"log_loss_fold_{fold}", score + rng.random() / 10, now, run_id, 0, False)
                for fold in range(5)
            ]
            metrics += [
                (name, rng.random(), now, run_id, 0, False)
                for name in (
                    "log_loss_std",
                    "duration_s",
                    "fit_seconds_mean",
                    "peak_memory_mb",
                    "log_loss_curve",
                )
            ]
        record = artifact_dir / str(experiment_id) / parent / "artifacts" / RECORD_ARTIFACT
        record.parent.mkdir(parents=True)
        best = sorted(trial_configs, key=lambda c: c["score"])[
            :CACHED_CONFIGS
        ]  # log loss: lower is better
        record.write_text(
            json.dumps({"version": RECORD_VERSION, "metric": "log_loss", "configs": best})
        )
    with psycopg.connect(db_url) as connection, connection.cursor() as cursor:
        _copy(
            cursor,
            "runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)",
            runs,
        )
        _copy(cursor, "tags (key, value, run_uuid)", tags)
        _copy(cursor, "params (key, value, run_uuid)", params)
        _copy(cursor, "metrics (key, value, timestamp, run_uuid, step, is_nan)", metrics)
        _copy(cursor, "latest_metrics (key, value, timestamp, run_uuid, step, is_nan)", metrics)
        cursor.execute("ANALYZE")


def _run_row(run_id: str, name: str, experiment_id: int, now: int) -> tuple:
    return (
        run_id,
        name,
        "LOCAL",
        "",
        "",
        "bench",
        "FINISHED",
        now,
        now + 1000,
        "",
        "active",
        f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
        experiment_id,
    )


def _copy(cursor, table: str, rows: list[tuple]) -> None:
    with cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def start_mlflow_server(
    db_url: str, workdir: Path, artifact_dir: Path, workers: int
) -> tuple[subprocess.Popen, str]:
    from tests.conftest import free_port, wait_for_http

    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            db_url,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--artifacts-destination",
            str(artifact_dir),
            "--serve-artifacts",
        ],
        cwd=workdir,
        stdout=open(workdir / "mlflow-server.log", "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/health", timeout=180, process=process)
    return process, url


def timed_read(url: str, cache_root: Path, threads: int, use_records: bool) -> tuple[float, list]:
    from mlflow import MlflowClient

    from kubetune.components.warmstart import read_history

    started = time.perf_counter()
    studies = read_history(
        MlflowClient(url), url, cache_root, threads=threads, use_records=use_records
    )
    return time.perf_counter() - started, studies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--studies",
        type=positive_ints,
        nargs="+",
        default=[50, 200],
        help="history sizes to measure",
    )
    parser.add_argument("--trials", type=positive_ints, default=100, help="trials per past study")
    parser.add_argument("--repeats", type=positive_ints, default=3)
    parser.add_argument(
        "--threads",
        type=positive_ints,
        default=8,
        help="concurrent study reads to compare with one",
    )
    parser.add_argument(
        "--server-workers",
        type=positive_ints,
        default=2,
        help="mlflow server workers (the Helm chart's default: 2)",
    )
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get(
            "KUBETUNE_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kubetune-bench-metastore-"))

    modes = {  # name: (readers, use_records); each read starts from an empty cache
        "query, 1 reader": (1, False),
        f"query, {args.threads} readers": (args.threads, False),
        f"records, {args.threads} readers": (args.threads, True),
    }
    baseline = next(iter(modes))
    rows = []
    for n_studies in args.studies:
        name, db_url = create_database(args.pg_admin, "metastore.py")
        artifact_dir = workdir / f"artifacts-{n_studies}"
        process = None
        try:
            build_history(db_url, n_studies, args.trials, artifact_dir)
            process, url = start_mlflow_server(db_url, workdir, artifact_dir, args.server_workers)
            timings: dict[str, list[float]] = {mode: [] for mode in [*modes, "cache filled"]}
            for repeat in range(args.repeats):
                read = {}
                for mode, (threads, use_records) in modes.items():  # side by side, in turn
                    cache = workdir / f"cache-{n_studies}-{repeat}-{threads}-{use_records}"
                    seconds, read[mode] = timed_read(url, cache, threads, use_records)
                    timings[mode].append(seconds)
                contents = {
                    mode: sorted(json.dumps(s.to_json(), sort_keys=True) for s in studies)
                    for mode, studies in read.items()
                }
                if len(read[baseline]) != n_studies or any(
                    c != contents[baseline] for c in contents.values()
                ):
                    raise SystemExit(
                        f"the modes read different histories ({ {m: len(s) for m, s in read.items()} } studies)"
                    )
                seconds, _ = timed_read(url, cache, 1, True)  # the last mode's cache, now filled
                timings["cache filled"].append(seconds)
            rows.append((n_studies, timings))
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
            drop_database(args.pg_admin, name)

    names = [*modes, "cache filled"]
    print(
        f"Seconds before the first trial spent reading the meta-store (median of {args.repeats}; mlflow server with "
        f"{args.server_workers} workers, PostgreSQL; {args.trials} trials per past study)\n"
    )
    print("| past studies | " + " | ".join(names) + " | ratio to the first column |")
    print("|---|" + "---|" * (len(names) + 1))
    for n_studies, timings in rows:
        median = {k: statistics.median(v) for k, v in timings.items()}
        ratios = ", ".join(f"{median[baseline] / median[k]:.1f}x" for k in names[1:])
        print(
            f"| {n_studies} | " + " | ".join(f"{median[k]:.2f}" for k in names) + f" | {ratios} |"
        )
    print("\nall repeats:")
    for n_studies, timings in rows:
        print(
            f"  {n_studies}: "
            + "; ".join(
                f"{k}: {', '.join(f'{v:.2f}' for v in values)}" for k, values in timings.items()
            )
        )


if __name__ == "__main__":
    main()
