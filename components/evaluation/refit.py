"""Refit the best configuration on the whole training part and evaluate it once on the held-out test set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetune.components.core import EvaluationTarget
from kubetune.components.data import encode_hashes, read_frame, row_hashes
from kubetune.components.evaluation.cross_validation import fit_full, score_holdout
from kubetune.components.models import get_family


@dataclass
class RefitOutcome:
    model: Any
    test_scores: dict[str, float]
    input_example: Any
    # the rows it was trained on, as hashes of their values (retraining leaves them out of a later
    # data version's held-out set when it scores this model)
    training_rows: dict[str, Any]


def refit_and_evaluate(
    *,
    family: str,
    params: dict[str, Any],
    task: str,
    seed: int | None,
    train_uri: str,
    test_uri: str,
    target: EvaluationTarget,
    schedule: list[dict[str, Any]] | None = None,
) -> RefitOutcome:
    """``schedule`` (population-based training, kubetune.components.search.pbt.replay_schedule): the rounds are replayed
    in order on the whole training part, each resuming from the previous round's weights with its own
    settings, epochs and seed; ``params`` are then only what the refit run records."""
    train = read_frame(train_uri)
    if schedule:
        model = replay(family, schedule, task, train, target)
    else:
        model = fit_full(get_family(family).build(params, task, seed), train, target)
    # read after the search is over (here, and by the analysis's held-out intervals), never by a trial
    test = read_frame(test_uri)
    scores = score_holdout(model, test, target)
    example = train.drop(columns=[target.column, *target.drop]).head(5).reset_index(drop=True)
    columns = [str(c) for c in train.columns]
    rows = {"columns": columns, "hashes": encode_hashes(row_hashes(train, columns))}
    return RefitOutcome(model, scores, example, rows)


def replay(
    family: str, schedule: list[dict[str, Any]], task: str, train: Any, target: EvaluationTarget
) -> Any:
    """Train through the schedule's rounds; the returned pipeline holds the last round's model."""
    state = None
    model: Any = None
    for step in schedule:
        estimator = get_family(family).build(
            {**step["params"], "epochs": step["epochs"]}, task, step["seed"]
        )
        estimator.resume_from = state
        model = fit_full(estimator, train, target)
        state = model.named_steps["model"].training_state_
    # the logged model carries its own state, not its parent's
    model.named_steps["model"].resume_from = None
    return model
