"""One population member's round of training (worker side, local process or pod).

The member starts from a checkpoint (its own last one, or a better member's when it exploited) or from
fresh weights, trains ``interval`` epochs on the first split's training rows, is scored on that
split's validation rows, and writes its checkpoint (weights, optimizer state, epochs done) to the
artifact store -- a local folder or S3 -- where the next round, in any worker or pod, reads it.
"""

from __future__ import annotations

import time
from typing import Any

from kubetune.components.core import TrialRequest, TrialResult
from kubetune.components.execution.reporting import (
    StepReporter,
    failed_result,
    load_training_data,
    peak_memory_mb,
)


def run_member_round(request: TrialRequest) -> TrialResult:
    """Never raises: an error is this round's FAIL (the member then copies a working one)."""
    from kubetune.components.data import features_and_target, read_bytes, write_bytes
    from kubetune.components.evaluation import make_pipeline, score, splits
    from kubetune.components.models import get_family
    from kubetune.components.models.torch_base import load_checkpoint, save_checkpoint
    from kubetune.components.search import round_seed

    started = time.perf_counter()
    round_ = request.pbt
    if round_ is None:
        raise ValueError("run_member_round needs a request with its population round (request.pbt)")
    reporter = StepReporter(request)
    reporter.unit = "epoch"
    try:
        frame = load_training_data(request.data_uri)
        X, y = features_and_target(frame, request.target, request.drop)
        train_rows, val_rows = next(
            splits(
                request.validation,
                X,
                y,
                request.n_classes,
                request.folds,
                request.val_size,
                request.seed,
            )
        )
        X_val, y_val = X.iloc[val_rows], y.iloc[val_rows]
        params: dict[str, Any] = {
            **request.fixed_params,
            **request.params,
            "epochs": round_.interval,
        }
        seed = round_seed(request.seed, round_.generation, round_.member)
        pipeline = make_pipeline(get_family(request.family).build(params, request.task, seed))
        model = pipeline.named_steps["model"]
        if round_.checkpoint_in:
            model.resume_from = load_checkpoint(read_bytes(round_.checkpoint_in))
        model.epoch_callback = lambda done, _m: reporter(
            done,
            score(
                request.metrics[0],
                pipeline,
                X_val,
                y_val,
                request.n_classes,
                request.positive_class,
            ),
        )
        pipeline.fit(X.iloc[train_rows], y.iloc[train_rows])
        model.epoch_callback = None
        values = [
            score(m, pipeline, X_val, y_val, request.n_classes, request.positive_class)
            for m in request.metrics
        ]
        write_bytes(round_.checkpoint_out, save_checkpoint(model.training_state_))
        return TrialResult(
            trial_number=request.trial_number,
            state="COMPLETE",
            values=values,
            fold_scores={m: [v] for m, v in zip(request.metrics, values)},
            duration_s=time.perf_counter() - started,
            peak_memory_mb=peak_memory_mb(),
            curve=reporter.curve,
            step_unit="epoch",
        )
    except Exception as error:  # noqa: BLE001 - any error is this round's failure, not the population's
        return failed_result(request, started, error, reporter.curve)
