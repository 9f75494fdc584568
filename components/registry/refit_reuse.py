"""A finished study run again with nothing new to do keeps the model it already has.

Re-running a study's command resumes it; when its budget was already spent, no trial runs and the best
configuration is the one its refit run already trained on the same data. Refitting it again would
register an identical model as a new version on every re-run: a daily schedule over data that changes
weekly would fill the registry with copies, and ``kubetune retrain`` would challenge the champion with
itself. So the refit is reused when everything it depends on is unchanged, and redone otherwise (a crash
before or during the refit, other params, other data, split, seed, metrics or registered name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetune.components.core import DATA_TAG, REFIT_TAG, REGISTERED_TAG


@dataclass(frozen=True)
class WantedRefit:
    """What a refit made now would be: its logged params (as MLflow strings) and what it stands on."""

    params: dict[str, str]
    registered_model: str
    data_fingerprint: str
    seed: str
    n_test: str
    metrics: list[str]


@dataclass(frozen=True)
class ReusedRefit:
    run_id: str
    version: str
    test_metrics: dict[
        str, float
    ]  # the refit's held-out scores (its CV scores are the study's best trial's)


def matches(wanted: WantedRefit, parent: Any, refit: Any) -> bool:
    """Pure: the parent run's record and its refit run describe the refit ``wanted`` would make."""
    recorded = parent.data.params
    return (
        parent.data.tags.get(DATA_TAG) == wanted.data_fingerprint
        and parent.data.tags.get(REGISTERED_TAG) == wanted.registered_model
        and recorded.get("seed") == wanted.seed
        and recorded.get("n_test") == wanted.n_test
        and refit.info.status == "FINISHED"
        and refit.data.params == wanted.params
        and all(
            f"test_{metric}" in refit.data.metrics and f"cv_{metric}" in refit.data.metrics
            for metric in wanted.metrics
        )
    )


def find_reusable_refit(client: Any, parent_run_id: str, wanted: WantedRefit) -> ReusedRefit | None:
    """The study's earlier refit and the model version registered from it, when it can stand for a new one."""
    parent = client.get_run(parent_run_id)
    refit_id = parent.data.tags.get(REFIT_TAG)
    if not refit_id:
        return None
    refit = client.get_run(refit_id)
    if not matches(wanted, parent, refit):
        return None
    versions = client.search_model_versions(
        f"name = '{wanted.registered_model}' and run_id = '{refit_id}'"
    )
    if not versions:  # the version was deleted from the registry: make a new one
        return None
    metrics = refit.data.metrics
    return ReusedRefit(
        run_id=refit_id,
        version=str(versions[0].version),
        test_metrics={f"test_{m}": metrics[f"test_{m}"] for m in wanted.metrics},
    )
