"""Cross-validation of a fused group: K configurations of one PyTorch MLP structure, fold by fold,
each fold trained as one batched model (kubetune.components.models.torch_fused).

The folds, the preprocessing and the scores are those of ``cross_validate``: the same splits (every
member of a group shares the study's seed), one preprocessing fitted per fold (it does not depend on the
configuration), and each member scored by the same scorers on its own fitted pipeline. Progress is per
member, as each would report alone: its learning curve on the first split with a fidelity, else its
running score after each fold. A member whose callback raises (its pruner said stop) or whose scoring
fails is stopped there, with that exception, and the others go on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kubetune.components.core import EvaluationTarget
from kubetune.components.data import build_preprocessor, features_and_target
from kubetune.components.evaluation.cross_validation import (
    CVResult,
    FoldCallback,
    score,
    splits,
)
from kubetune.components.evaluation.fidelity import StepCallback

MemberOutcome = CVResult | BaseException  # its scores, or what stopped it


def cross_validate_fused(
    estimators: Sequence[Any],
    frame: pd.DataFrame,
    *,
    target: EvaluationTarget,
    strategy: str,
    folds: int,
    val_size: float,
    seed: int | None,
    on_fold: Sequence[FoldCallback | None],
    on_step: Sequence[StepCallback | None] | None = None,
) -> list[MemberOutcome]:
    """One outcome per estimator, in order. ``on_step`` (one per member, or None): report each
    member's learning curve on the first split, epoch by epoch; otherwise ``on_fold`` gets each
    member's running mean after every fold."""
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    from kubetune.components.models.torch_fused import fit_fused, with_outputs

    metrics, n_classes, positive = target.metrics, target.n_classes, target.positive_class
    X, y = features_and_target(frame, target.column, list(target.drop))
    outcomes: list[MemberOutcome] = [CVResult({m: [] for m in metrics}) for _ in estimators]

    def live() -> list[int]:
        return [m for m, outcome in enumerate(outcomes) if isinstance(outcome, CVResult)]

    for index, (train_rows, val_rows) in enumerate(
        splits(strategy, X, y, n_classes, folds, val_size, seed)
    ):
        members = live()
        if not members:
            break
        X_val, y_val = X.iloc[val_rows], y.iloc[val_rows]
        preprocess = build_preprocessor().fit(X.iloc[train_rows], y.iloc[train_rows])  # type: ignore[attr-defined]
        transformed_val = preprocess.transform(X_val)
        fold_models = [clone(estimators[m]) for m in members]
        curve = index == 0 and on_step is not None

        def epoch_done(done: int, trained: list[int], fused: Any) -> list[int]:
            outputs = fused.predict(transformed_val, trained)
            stop = []
            for position, out in zip(trained, outputs):
                member = members[position]
                try:
                    value = score(
                        metrics[0],
                        with_outputs(fold_models[position], out),
                        X_val,
                        y_val,
                        n_classes,
                        positive,
                    )
                    on_step[member](done, value)  # type: ignore[index,misc]
                except Exception as error:  # noqa: BLE001 - pruned, or its score failed: this member only
                    outcomes[member] = error
                    stop.append(position)
            return stop

        started = time.perf_counter()
        fitted = fit_fused(
            fold_models,
            preprocess.transform(X.iloc[train_rows]),
            np.asarray(y.iloc[train_rows]),
            on_epoch=epoch_done if curve else None,
            dropout_seed=0 if seed is None else seed,
        )
        seconds = (time.perf_counter() - started) / len(members)  # each member's share of the fit
        for position, member in enumerate(members):
            result = outcomes[member]
            if not isinstance(result, CVResult):
                continue
            model = Pipeline([("preprocess", preprocess), ("model", fitted[position])])
            try:
                for metric in metrics:
                    value = score(metric, model, X_val, y_val, n_classes, positive)
                    if not np.isfinite(value):
                        raise ValueError(f"{metric} is {value} on fold {index}")
                    result.fold_scores[metric].append(value)
                result.fit_seconds.append(seconds)
                callback = on_fold[member]
                if callback is not None and on_step is None:
                    callback(index, result.mean(metrics[0]))
            except Exception as error:  # noqa: BLE001 - this member's failure, not the group's
                outcomes[member] = error
    return outcomes
