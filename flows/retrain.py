"""The ``retrain`` flow: tune on the fresh data (warm-started from the pipeline's previous study), refit,
then the challenger must beat the champion on the same new held-out test set to take the alias.

Scheduled by prefect.yaml (cron) or the Helm chart's CronJob; ``kubetune retrain SPEC`` runs it by hand.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from kubetune.components import pipeline
from kubetune.components.registry import check_promotion_settings
from kubetune.components.spec import parse_spec
from kubetune.flows.tune import tune_steps

versioned_spec = task(name="data-version", cache_policy=NO_CACHE)(pipeline.versioned_spec)
challenge_champion = task(name="challenge-champion", cache_policy=NO_CACHE)(
    pipeline.challenge_champion
)


@flow(name="retrain", log_prints=False, validate_parameters=False)
def retrain(
    spec: dict[str, Any], margin: float = 0.005, alias: str = "champion", progress: bool = False
) -> Any:
    """Retrain the pipeline described by ``spec``; move ``alias`` only if the challenger wins by ``margin``."""
    # before any work: a deployment's parameters skip the CLI
    check_promotion_settings(margin, alias)
    tuning_spec = versioned_spec(parse_spec(spec))
    outcome = tune_steps(tuning_spec, progress)
    if outcome.failed is not None or outcome.result is None:
        return outcome.failed
    return challenge_champion(tuning_spec, outcome.prepared, outcome.result, margin, alias)
