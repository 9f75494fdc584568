"""Fitting in steps: a learning curve the study can watch and a pruner can cut short.

Families declare how they train in steps (``Fidelity``): PyTorch models call back after every epoch;
gradient boosting and forests grow with ``warm_start`` a chunk of iterations or trees at a time (the
same model as one fit: scikit-learn draws the same seeds). After each step the partial model is scored
on the validation rows and ``on_step(step, score)`` is called; raising there (optuna.TrialPruned) stops
the fit. Families without a fidelity fit in one go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubetune.components.models import Fidelity

# (steps done, in the family's unit; score of the first metric)
StepCallback = Callable[[int, float], None]


def fit_in_steps(
    pipeline: Any,
    X: Any,
    y: Any,
    fidelity: Fidelity,
    score: Callable[[Any], float],
    on_step: StepCallback,
) -> None:
    """Fit ``pipeline`` (preprocess + model) on X, y, calling ``on_step`` after every step."""
    model = pipeline.named_steps["model"]
    if hasattr(model, "epoch_callback"):
        model.epoch_callback = lambda done, _model: on_step(done, score(pipeline))
        try:
            pipeline.fit(X, y)
        finally:
            model.epoch_callback = None
        return
    if "warm_start" not in model.get_params():
        pipeline.fit(X, y)
        on_step(int(model.get_params().get(fidelity.param, 1)), score(pipeline))
        return
    transformed = pipeline.named_steps["preprocess"].fit_transform(X, y)
    total = int(model.get_params()[fidelity.param])
    for done in step_schedule(total, fidelity.step):
        model.set_params(warm_start=True, **{fidelity.param: done})
        model.fit(transformed, y)
        on_step(done, score(pipeline))


def step_schedule(total: int, step: int) -> list[int]:
    """10, 20, ..., total: the last step is the total even when it is not a multiple of the step."""
    points = list(range(step, total, step))
    return points + [total]
