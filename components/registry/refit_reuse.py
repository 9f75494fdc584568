"""One refit, one held-out evaluation and one model version per study and configuration.

Re-running a study's command resumes it; when its budget was already spent, no trial runs and the best
configuration is the one its refit run already trained on the same data. Refitting it again would
register an identical model as a new version on every re-run: a daily schedule over data that changes
weekly would fill the registry with copies, and ``kubetune retrain`` would challenge the champion with
itself. Two controllers sharing a study end on the same best trial and would each refit it. So the refit
is reused when everything it depends on is unchanged -- whichever run of the study made it -- and redone
otherwise (other params, other data, split, seed, metrics or registered name).

A refit interrupted by a crash is settled by the next one (``settle_interrupted_refits``, called under
the study's refit lock, so no other refit is in progress): finished when it got as far as its model
version, ended KILLED with the reason otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetune.components.core import DATA_TAG, FAILURE_REASON, REGISTERED_TAG, ROLE_TAG, STUDY_TAG
from kubetune.components.tracking import PARENT_TAG


@dataclass(frozen=True)
class WantedRefit:
    """What a refit made now would be: its logged params (as MLflow strings) and what it stands on."""

    params: dict[str, str]
    registered_model: str
    data_fingerprint: str
    seed: str
    n_test: str
    metrics: list[str]
    # when the analysis stage chooses the configuration (among finalists, after the search), what its
    # choice depends on -- the search's best trial, the study's trial count, the analysis settings --
    # compared instead of the configuration itself, which is known only once the analysis has run
    selection_basis: dict[str, str] | None = None


@dataclass(frozen=True)
class ReusedRefit:
    run_id: str
    version: str
    # the refit's held-out scores (its CV scores are the study's best trial's)
    test_metrics: dict[str, float]


def matches(wanted: WantedRefit, parent: Any, refit: Any) -> bool:
    """Pure: the parent run's record and its refit run describe the refit ``wanted`` would make."""
    recorded = parent.data.params
    return (
        parent.data.tags.get(DATA_TAG) == wanted.data_fingerprint
        # a parent interrupted before its refit finished lacks the tag; the version's name then says it
        and parent.data.tags.get(REGISTERED_TAG, wanted.registered_model) == wanted.registered_model
        and recorded.get("seed") == wanted.seed
        and recorded.get("n_test") == wanted.n_test
        and refit.info.status == "FINISHED"
        and (
            refit.data.params == wanted.params
            if wanted.selection_basis is None
            else all(refit.data.params.get(k) == v for k, v in wanted.selection_basis.items())
        )
        and all(
            f"test_{metric}" in refit.data.metrics and f"cv_{metric}" in refit.data.metrics
            for metric in wanted.metrics
        )
    )


def _refit_runs(client: Any, experiment_id: str, study_name: str, status: str) -> list[Any]:
    return client.search_runs(
        [experiment_id],
        f"tags.`{STUDY_TAG}` = '{study_name}' AND tags.`{ROLE_TAG}` = 'refit' AND attributes.status = '{status}'",
        order_by=["attributes.start_time DESC"],
    )


def _version_of(client: Any, registered_model: str, run_id: str) -> str | None:
    versions = client.search_model_versions(f"name = '{registered_model}' and run_id = '{run_id}'")
    return str(versions[0].version) if versions else None


def find_reusable_refit(
    client: Any, experiment_id: str, study_name: str, wanted: WantedRefit
) -> ReusedRefit | None:
    """A finished refit of the study, by any of its runs, and the model version registered from it, when
    it can stand for the refit ``wanted`` (a version deleted from the registry is made again)."""
    for refit in _refit_runs(client, experiment_id, study_name, "FINISHED"):
        parent_id = refit.data.tags.get(PARENT_TAG)
        if not parent_id or not matches(wanted, client.get_run(parent_id), refit):
            continue
        version = _version_of(client, wanted.registered_model, refit.info.run_id)
        if version is not None:
            metrics = refit.data.metrics
            test_metrics = {f"test_{m}": metrics[f"test_{m}"] for m in wanted.metrics}
            return ReusedRefit(refit.info.run_id, version, test_metrics)
    return None


def settle_interrupted_refits(
    client: Any, experiment_id: str, study_name: str, registered_model: str
) -> list[str]:
    """End the study's refit runs left RUNNING by a controller that died; returns what was done to each.
    Call it holding the study's refit lock: then no refit is in progress, and a RUNNING one is a crash's."""
    done = []
    for refit in _refit_runs(client, experiment_id, study_name, "RUNNING"):
        run_id = refit.info.run_id
        # scored, logged and registered
        if _version_of(client, registered_model, run_id) is not None:
            client.set_terminated(run_id, "FINISHED")
            done.append(
                f"finished refit run {run_id}: it had registered its model before it was interrupted"
            )
        else:
            reason = (
                "the refit was interrupted before it registered its model; a later run refitted"
            )
            client.set_tag(run_id, FAILURE_REASON, reason)
            client.set_terminated(run_id, "KILLED")
            done.append(f"ended refit run {run_id} KILLED: {reason}")
    return done
