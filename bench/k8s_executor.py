"""Kubernetes executor figures against the stateful test API server (tests/k8s): no cluster needed.

* latency from a pod finishing (the kubelet writing phase Succeeded) to the trial being told to the
  study: p50 / p95 over N trials (target p95 <= 1 s);
* Jobs created per second through the executor (render + create over HTTP with the official client).

Needs the machine's PostgreSQL (the study storage pods report to).
Usage (from the repository root): python bench/k8s_executor.py [--trials 30] [--creates 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DO_NOT_TRACK", "1")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--parallelism", type=int, default=3)
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get(
            "KUBETUNE_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()

    import optuna
    import psycopg
    from kubernetes import client

    from kubetune.components.data.frames import read_source, write_frame
    from kubetune.components.execution import KubernetesExecutor, open_storage, read_published
    from kubetune.components.spec import KubernetesSpec
    from tests.contract.executor_contract import request
    from tests.k8s.fake_api import FakeKubeAPI
    from tests.k8s.kubelet import TestKubelet

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = f"kt_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg_admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = args.pg_admin.rsplit("/", 1)[0] + f"/{name}"
    storage = open_storage(url)
    study = optuna.create_study(study_name="bench", storage=storage)
    data_uri = str(
        write_frame(read_source("sklearn:breast_cancer"), Path(f"/tmp/{name}-train.parquet"))
    )

    api = FakeKubeAPI().start()
    finished_at: dict[str, float] = {}
    kubelet = TestKubelet(
        api, "bench", {"kubetune-study-db": {"url": url}}, extra_env={"PYTHONPATH": str(REPO)}
    )
    original_finish = kubelet._finish

    def timed_finish(job, pod_name, phase, *a, **k):  # the moment the pod's final status is written
        finished_at[job["metadata"]["labels"]["kubetune.io/trial"]] = time.monotonic()
        original_finish(job, pod_name, phase, *a, **k)

    kubelet._finish = timed_finish
    kubelet.start()
    configuration = client.Configuration()
    configuration.host = api.url

    def reader(n: int):
        return read_published(
            storage, storage.get_trial_id_from_study_id_trial_number(study._study_id, n)
        )

    executor = KubernetesExecutor(
        KubernetesSpec(namespace="bench"),
        "bench",
        args.parallelism,
        reader,
        api_client=client.ApiClient(configuration),
    ).start()
    latencies, trials, submitted = [], {}, 0
    while len(latencies) < args.trials:
        while submitted < args.trials and len(executor.running()) < args.parallelism:
            trial = study.ask()
            trials[trial.number] = trial
            executor.submit(
                request(data_uri, trial.number, "bench.families:NoopFamily", {}).model_copy(
                    update={"trial_id": trial._trial_id, "study_name": "bench"}
                )
            )
            submitted += 1
        for result in executor.wait(timeout=1.0):
            study.tell(trials[result.trial_number], result.values[0])
            latencies.append(time.monotonic() - finished_at[str(result.trial_number)])
    executor.close()
    kubelet.stop()

    idle_api = FakeKubeAPI().start()  # no kubelet: measures the executor and API path alone
    configuration.host = idle_api.url
    creator = KubernetesExecutor(
        KubernetesSpec(namespace="bench"),
        "bench-create",
        args.creates,
        reader,
        api_client=client.ApiClient(configuration),
    )
    started = time.monotonic()
    for number in range(args.creates):
        creator.submit(
            request(data_uri, number, "bench.families:NoopFamily", {}).model_copy(
                update={"study_name": "bench-create"}
            )
        )
    rate = args.creates / (time.monotonic() - started)
    idle_api.stop()
    api.stop()

    latencies.sort()
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
    print("| measure | value | n |\n|---|---|---|")
    print(
        f"| pod finished -> trial told, p50 | {1000 * statistics.median(latencies):.0f} ms | {len(latencies)} trials, parallelism {args.parallelism} |"
    )
    print(f"| pod finished -> trial told, p95 | {1000 * p95:.0f} ms | target <= 1000 ms |")
    print(
        f"| Jobs created per second (render + create over HTTP) | {rate:.0f} /s | {args.creates} Jobs |"
    )
    with psycopg.connect(args.pg_admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
