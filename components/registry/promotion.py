"""Champion/challenger: whether a freshly tuned model takes the registry alias. Pure, so the rule is
tested on its own and the retrain flow only feeds it two scores measured on the same held-out test set.

The challenger must beat the champion by ``margin`` (in the metric's own units, in its better direction):
a scheduled retrain should not churn the served model over a difference that is noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

_FLOAT_SLACK = 1e-12


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    metric: str
    direction: str
    challenger_score: float
    champion_score: float | None
    margin: float

    @property
    def improvement(self) -> float | None:
        """How much better the challenger scored (positive = better), in the metric's better direction."""
        return (
            None
            if self.champion_score is None
            else _better_by(self.direction, self.challenger_score, self.champion_score)
        )

    @property
    def verdict(self) -> str:
        return "promoted" if self.promote else "kept_champion"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "improvement": self.improvement, "decision": self.verdict}


def _better_by(direction: str, challenger: float, champion: float) -> float:
    return challenger - champion if direction == "maximize" else champion - challenger


def margin_problem(margin: float) -> str | None:
    """What is wrong with a margin, or None; the CLI and the flow both check it before any work."""
    # `>=` is False for nan too
    return None if margin >= 0 else f"must be >= 0 (the metric's units), got {margin}"


def decide_promotion(
    metric: str,
    direction: str,
    challenger_score: float,
    champion_score: float | None,
    margin: float,
    champion_problem: str | None = None,
    already_champion: bool = False,
) -> PromotionDecision:
    """``champion_score`` None means there is no champion yet, or (with ``champion_problem``) that it
    could not be scored on the new data, which it then could not serve either: the challenger wins.
    ``already_champion``: the challenger is the version that holds the alias (a re-run with nothing new
    to train reuses its model), so there is nothing to decide."""
    problem = margin_problem(margin)
    if problem:
        raise ValueError(f"margin {problem}")

    def decision(
        promote: bool, reason: str, champion: float | None = champion_score
    ) -> PromotionDecision:
        return PromotionDecision(
            promote, reason, metric, direction, challenger_score, champion, margin
        )

    if already_champion:
        return decision(
            False,
            "the challenger already holds the alias: nothing new was trained",
            champion=challenger_score,
        )
    if champion_score is None:
        reason = (
            f"the champion could not be scored on the new test set ({champion_problem})"
            if champion_problem
            else "no champion yet"
        )
        return decision(True, reason)
    improvement = _better_by(direction, challenger_score, champion_score)
    if improvement > margin + _FLOAT_SLACK:  # 0.91 - 0.90 is 0.0100000000000001 in binary
        return decision(
            True,
            f"challenger {metric} {challenger_score:.4f} beats champion {champion_score:.4f} by {improvement:.4f} > margin {margin}",
        )
    return decision(
        False,
        f"challenger {metric} {challenger_score:.4f} vs champion {champion_score:.4f}: improvement {improvement:.4f} <= margin {margin}",
    )


def retrain_study_name(base: str, data_fingerprint: str) -> str:
    """One study per data version: re-running on the same data resumes it, fresh data starts a new one."""
    suffix = data_fingerprint[:10]
    head = base[: 63 - len(suffix) - 1].rstrip("-._")
    return f"{head}-{suffix}"
