"""The one search orchestration: sampled search and population-based training both run here.

Open the study storage and the executor, let the strategy open its study and run its trials, turn a
cluster problem (an image that cannot be pulled, a namespace that forbids Jobs) into a failed search
that closes the parent run with its reason, and pick the configuration to refit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from kubetune.components.core import FAILURE_REASON, TrialResult
from kubetune.components.execution import (
    ClusterProblem,
    Executor,
    KubernetesExecutor,
    LocalExecutor,
    PackingPlan,
    TrialsSummary,
    open_storage,
    read_published,
    resolve_mode,
    storage_url,
)
from kubetune.components.models import get_family
from kubetune.components.pipeline.data_preparation import PreparedData
from kubetune.components.pipeline.population_search import PopulationSearch
from kubetune.components.pipeline.sampled_search import SampledSearch
from kubetune.components.pipeline.search_strategy import (
    SearchContext,
    SearchOutcome,
    SearchStrategy,
)
from kubetune.components.pipeline.study_run import make_tracker
from kubetune.components.search import Space
from kubetune.components.spec import TuneSpec
from kubetune.components.tracking import Tracker
from kubetune.components.warmstart import WarmStartPlan

log = logging.getLogger("kubetune")


@contextlib.contextmanager
def local_workers(spec: TuneSpec) -> Iterator[Executor | None]:
    """The job's local worker processes, started when the job starts and closed when the block ends.

    Their imports (scikit-learn, kubetune, a second or more) then overlap with the data's preparation
    instead of holding the first trial, and the finalists run on the same warm workers after the
    search rather than on new ones. None where trials run as Kubernetes Jobs, or packed several to a
    worker (the finalists must run alone): the search starts its own executor there.
    """
    if spec.executor.kind != "local" or packing_plan(spec) is not None:
        yield None
        return
    workers = make_executor(spec, storage=None).start()  # local: no study storage to read
    try:
        yield workers
    finally:
        workers.close()


def run_search(
    spec: TuneSpec,
    prepared: PreparedData,
    space: Space,
    parent_run_id: str,
    progress: bool,
    warm: WarmStartPlan | None = None,
    workers: Executor | None = None,
) -> SearchOutcome:
    """The study's trials, on ``workers`` (kept open: the job's, see ``local_workers``) or on an
    executor of its own."""
    context = SearchContext(
        spec, prepared, space, warm, make_tracker(spec), parent_run_id, progress
    )
    strategy: SearchStrategy = (
        PopulationSearch(context) if spec.search.strategy == "pbt" else SampledSearch(context)
    )
    storage = open_storage(
        storage_url(spec.storage.url), spec.storage.heartbeat_interval, spec.storage.grace_period
    )
    # an executor of its own starts here: local workers import while the study opens
    executor = workers if workers is not None else make_executor(spec, storage).start()
    try:
        study = strategy.open_study(storage)
        startup_seconds = executor.wait_ready()
        try:
            summary = strategy.run(study, executor)
        except ClusterProblem as problem:
            return failed_search(
                context.tracker,
                parent_run_id,
                f"the study stopped early: {problem}",
                TrialsSummary(),
                len(study.trials),
            )
        summary.startup_seconds = startup_seconds
    finally:
        if workers is None:
            executor.close()
        else:  # none runs after a normal end; one left would hold a worker the finalists need
            for number in executor.running():
                executor.cancel(number)
    context.tracker.log_study_cost(parent_run_id)
    chosen = strategy.best(study, summary)
    if isinstance(chosen, str):
        return failed_search(context.tracker, parent_run_id, chosen, summary, len(study.trials))
    return chosen


def make_executor(spec: TuneSpec, storage: Any, study_name: str | None = None) -> Executor:
    """Local worker processes, or Kubernetes Jobs whose results are read from the shared study storage.
    ``study_name``: the study whose trials it runs, when not the spec's (the finalists')."""
    study_name = study_name or spec.study_name
    # the finalists are scored alone, each on its own worker: a finalist must score as it would alone
    plan = packing_plan(spec) if study_name == spec.study_name else None
    if spec.executor.kind == "local":
        return LocalExecutor(spec.search.parallelism, spec.search.trial_timeout, packing=plan)

    def read_result(
        number: int,
    ) -> TrialResult | None:  # the study exists by the time any pod has finished
        study_id = storage.get_study_id_from_name(study_name)
        return read_published(
            storage, storage.get_trial_id_from_study_id_trial_number(study_id, number)
        )

    return KubernetesExecutor(
        spec.executor.kubernetes,
        study_name,
        spec.search.parallelism,
        read_result,
        spec.search.trial_timeout,
        packing=plan,
    )


def packing_plan(spec: TuneSpec) -> PackingPlan | None:
    """The spec's ``executor.packing`` as the executor runs it; None when each trial has its worker."""
    packing = spec.executor.packing
    if not packing.packs:
        return None
    family = get_family(spec.model.family)
    mode = resolve_mode(packing.mode, family.fused_structure is not None)
    auto = packing.trials == "auto"
    return PackingPlan(
        mode=mode,
        size=1 if auto else int(packing.trials),
        auto=auto,
        structure=family.fused_structure if mode == "fused" else None,
    )


def failed_search(
    tracker: Tracker, parent_run_id: str, failure: str, summary: TrialsSummary, n_trials: int
) -> SearchOutcome:
    """No configuration to refit: the parent run ends FAILED with the reason, and the flow fails with it."""
    tracker.set_tags(parent_run_id, {FAILURE_REASON: failure})
    tracker.end_run(parent_run_id, status="FAILED")
    return SearchOutcome(None, {}, [], summary, n_trials, failure=failure)
