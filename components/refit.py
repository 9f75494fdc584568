"""Refit the best configuration on the whole training part and evaluate it once on the held-out test set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.data import read_frame
from components.evaluation import fit_full, score_holdout
from components.models.registry import get_family


@dataclass
class RefitOutcome:
    model: Any
    test_scores: dict[str, float]
    input_example: Any


def refit_and_evaluate(
    *,
    family: str,
    params: dict[str, Any],
    task: str,
    seed: int | None,
    train_uri: str,
    test_uri: str,
    target: str,
    drop: list[str],
    metrics: list[str],
    n_classes: int | None,
) -> RefitOutcome:
    train = read_frame(train_uri)
    estimator = get_family(family).build(params, task, seed)
    model = fit_full(estimator, train, target, drop)
    test = read_frame(test_uri)  # read here, after the search is over, and nowhere else
    scores = score_holdout(model, test, target, drop, metrics, n_classes)
    example = train.drop(columns=[target, *drop]).head(5).reset_index(drop=True)
    return RefitOutcome(model, scores, example)
