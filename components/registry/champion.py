"""The MLflow registry side of champion/challenger: find the model that holds the alias, score it on the
new held-out test set, move the alias, record the decision. Thin I/O around ``kubetune.components.registry.promotion``."""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from kubetune.components.core import (
    PROMOTION_ALIAS_TAG,
    PROMOTION_CHALLENGER_TAG,
    PROMOTION_CHAMPION_TAG,
    PROMOTION_DECISION_TAG,
    PROMOTION_REASON_TAG,
    TRAINING_ROWS_ARTIFACT,
    EvaluationTarget,
    SpecError,
    error_reason,
)
from kubetune.components.data import decode_hashes, read_frame
from kubetune.components.evaluation import score_holdout
from kubetune.components.registry.legacy_modules import legacy_module_aliases
from kubetune.components.registry.promotion import PromotionDecision, margin_problem

log = logging.getLogger("kubetune")

# MLflow reserves `latest` and version-like aliases (v1, V2, ...)
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$")


def check_alias(alias: str) -> str:
    if not _ALIAS.match(alias) or alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise SpecError(
            f"--alias: '{alias}' is not a usable registry alias (letters, digits, '_' or '-'; not 'latest' or v<N>)"
        )
    return alias


def check_promotion_settings(margin: float, alias: str) -> None:
    """Checked before any work, whether the retrain comes from the CLI, a Prefect deployment or a CronJob."""
    problem = margin_problem(margin)
    if problem:
        raise SpecError(f"--margin: {problem}")
    check_alias(alias)


def champion_version(client: Any, model_name: str, alias: str) -> Any | None:
    """The version holding ``alias``, or None when the model or the alias does not exist yet."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def score_version(
    tracking_uri: str, model_name: str, version: str, test_uri: str, target: EvaluationTarget
) -> tuple[dict[str, float] | None, str | None]:
    """Scores of a registered version on the test set, or (None, why) when it cannot be scored there
    (a changed schema, a model file that no longer loads)."""
    import mlflow

    from kubetune.components.tracking import fluent_uris

    try:
        # a champion registered by kubetune 0.1 pickled 'components.models.*'; the URIs are set for
        # the load only, so a notebook's own MLflow calls after a retrain go where they went before
        with fluent_uris(tracking_uri), legacy_module_aliases():
            model = mlflow.sklearn.load_model(f"models:/{model_name}/{version}")
        return score_holdout(model, read_frame(test_uri), target), None
    except Exception as error:  # noqa: BLE001 - any failure means the champion cannot serve this data
        return None, error_reason(error)


def training_rows(
    client: Any, model_name: str, version: str
) -> tuple[list[str], np.ndarray] | None:
    """The columns and row hashes a registered version was trained on (its refit run's
    ``refit/training_rows.json``), or None for a version whose run does not have them."""
    run_id = client.get_model_version(model_name, version).run_id
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = client.download_artifacts(run_id, TRAINING_ROWS_ARTIFACT, folder)
            recorded = json.loads(Path(path).read_text())
    except Exception as error:  # noqa: BLE001 - MLflow raises many types for a missing artifact
        log.info(
            "version %s of %s records no training rows (%s)",
            version,
            model_name,
            error_reason(error),
        )
        return None
    return list(recorded["columns"]), decode_hashes(recorded["hashes"])


def move_alias(client: Any, model_name: str, alias: str, version: str) -> None:
    client.set_registered_model_alias(model_name, alias, version)


def promotion_record(
    decision: PromotionDecision, model_name: str, alias: str, challenger: str, champion: str | None
) -> dict[str, Any]:
    """What the challenge decided, as logged (promotion.json) and returned to the caller."""
    return {
        **decision.as_json(),
        "model": model_name,
        "alias": alias,
        "challenger_version": challenger,
        "champion_version": champion,
    }


def record_decision(
    tracker: Any, parent_run_id: str, decision: PromotionDecision, record: dict[str, Any]
) -> None:
    """Both scores and the decision on the study's parent run (metrics, tags, promotion.json) and on the
    challenger's model version, so the registry page alone tells why the alias did or did not move."""
    metrics = {f"promotion.challenger_test_{decision.metric}": decision.challenger_score}
    if decision.champion_score is not None:
        metrics[f"promotion.champion_test_{decision.metric}"] = decision.champion_score
    tracker.log_metrics(parent_run_id, metrics)
    tracker.set_tags(
        parent_run_id,
        {
            PROMOTION_DECISION_TAG: decision.verdict,
            PROMOTION_REASON_TAG: decision.reason[:500],
            PROMOTION_ALIAS_TAG: record["alias"],
            PROMOTION_CHALLENGER_TAG: record["challenger_version"],
            PROMOTION_CHAMPION_TAG: record["champion_version"] or "none",
        },
    )
    tracker.log_dict(parent_run_id, record, "promotion.json")
    client = tracker.client
    client.set_model_version_tag(
        record["model"], record["challenger_version"], PROMOTION_DECISION_TAG, decision.verdict
    )
    client.set_model_version_tag(
        record["model"], record["challenger_version"], PROMOTION_REASON_TAG, decision.reason[:500]
    )
