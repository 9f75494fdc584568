"""The job's local workers: started with the job, shared by the search and the finalists, closed at
its end; none where trials run as Kubernetes Jobs or packed several to a worker."""

from __future__ import annotations

from kubetune.components.execution import LocalExecutor
from kubetune.components.pipeline import local_workers
from kubetune.components.spec import parse_spec

BASE = {
    "data": {"source": "sklearn:breast_cancer"},
    "model": {"family": "random_forest"},
    "objective": {"metric": "roc_auc"},
    "search": {"parallelism": 2},
}


def test_a_local_job_starts_its_workers_at_once_and_closes_them_at_its_end():
    with local_workers(parse_spec(BASE)) as workers:
        assert isinstance(workers, LocalExecutor)
        processes = [w.process for w in workers._workers]
        assert len(processes) == 2  # started before anything asked for them
        assert workers.wait_ready() >= 0 and all(p.is_alive() for p in processes)
    assert not any(p.is_alive() for p in processes)


def test_a_kubernetes_or_packed_job_has_no_shared_local_workers():
    kubernetes = {**BASE, "executor": {"kind": "kubernetes"}}
    packed = {
        **BASE,
        "model": {"family": "torch_mlp"},
        "objective": {"metric": "accuracy"},
        "executor": {"packing": 4},
    }
    for raw in (kubernetes, packed):
        with local_workers(parse_spec(raw)) as workers:
            assert workers is None
