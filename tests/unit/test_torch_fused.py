"""A fused member scores what it would score alone (executor.packing: fused), on the CPU.

Tolerance: 1e-6 on every fold's score (batch norm aside: see its test). Initial weights, row order and dropout masks are the solo run's
draws, and the optimizer's arithmetic is AdamW's; what differs is only the summation order of batched
matrix products (measured: at most 3e-8 on R^2, 0 on accuracy). Regression and classification, with
dropout, with members of different epochs, and with a member stopped by its pruner mid-way.
"""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression

from kubetune.components.core import EvaluationTarget
from kubetune.components.evaluation import cross_validate, cross_validate_fused
from kubetune.components.models import get_family

TOLERANCE = 1e-6
MEMBERS = [  # one structure (depth, width, batch size); everything else each member's own
    {"lr": 1e-3, "weight_decay": 1e-5, "dropout": 0.0, "epochs": 8},
    {"lr": 1e-2, "weight_decay": 1e-3, "dropout": 0.2, "epochs": 5},
    {"lr": 3e-3, "weight_decay": 1e-4, "dropout": 0.4, "epochs": 10},
]
STRUCTURE = {"depth": 2, "width": 32, "batch_size": 64}


def problem(task: str) -> tuple[pd.DataFrame, EvaluationTarget, str]:
    if task == "classification":
        X, y = make_classification(300, 8, n_informative=5, n_classes=3, random_state=0)
        return (
            _frame(X, y),
            EvaluationTarget("t", (), ("accuracy", "log_loss"), 3),
            "stratified_kfold",
        )
    X, y = make_regression(300, 8, noise=5, random_state=0)
    return _frame(X, y), EvaluationTarget("t", (), ("r2",), None), "kfold"


def _frame(X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["t"] = y
    return frame


def estimators(task: str, seed: int = 7) -> list:
    family = get_family("torch_mlp")
    return [family.build({**STRUCTURE, **member}, task, seed) for member in MEMBERS]


def splits(task: str) -> dict:
    """The data and the splits every solo and fused run of ``task`` shares."""
    frame, target, strategy = problem(task)
    return {
        "frame": frame,
        "target": target,
        "strategy": strategy,
        "folds": 3,
        "val_size": 0.2,
        "seed": 7,
    }


def solo(task: str, on_step=None, member: int = 0):
    fidelity = get_family("torch_mlp").fidelity if on_step else None
    return cross_validate(
        estimators(task)[member], **splits(task), fidelity=fidelity, on_step=on_step
    )


def fused(task: str, on_fold=None, on_step=None):
    return cross_validate_fused(
        estimators(task),
        **splits(task),
        on_fold=on_fold or [None] * len(MEMBERS),
        on_step=on_step,
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_fused_member_scores_what_it_scores_alone(task):
    together = fused(task)
    for index, outcome in enumerate(together):
        alone = solo(task, member=index)
        assert set(outcome.fold_scores) == set(alone.fold_scores)
        for metric, scores in alone.fold_scores.items():
            assert len(scores) == 3
            np.testing.assert_allclose(outcome.fold_scores[metric], scores, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_member_stopped_by_its_pruner_leaves_the_others_as_they_are_alone(task):
    """Member 1's pruner stops it at epoch 3: its outcome is the pruning, its curve up to there is its solo
    curve, and the others' learning curves and fold scores are their solo ones."""
    curves: list[list[tuple[int, float]]] = [[] for _ in MEMBERS]

    def reporter(index):
        def report(step, value):
            curves[index].append((step, value))
            if index == 1 and step == 3:
                raise optuna.TrialPruned("pruned at epoch 3")

        return report

    together = fused(task, on_step=[reporter(i) for i in range(len(MEMBERS))])
    assert isinstance(together[1], optuna.TrialPruned)
    assert [step for step, _ in curves[1]] == [1, 2, 3]
    for index in (0, 1, 2):
        solo_curve: list[tuple[int, float]] = []
        alone = solo(task, lambda s, v, c=solo_curve: c.append((s, v)), member=index)
        np.testing.assert_allclose(
            [v for _, v in curves[index]],
            [v for _, v in solo_curve[: len(curves[index])]],
            atol=TOLERANCE,
        )
        if index != 1:
            assert [s for s, _ in curves[index]] == [s for s, _ in solo_curve]
            for metric, scores in alone.fold_scores.items():
                np.testing.assert_allclose(
                    together[index].fold_scores[metric], scores, atol=TOLERANCE, rtol=0
                )


def test_a_member_whose_report_fails_fails_alone():
    def broken(index, running_mean):
        raise RuntimeError("this member's report broke")

    together = fused("regression", on_fold=[None, broken, None])
    assert isinstance(together[1], RuntimeError)
    alone = solo("regression", member=2)
    np.testing.assert_allclose(
        together[2].fold_scores["r2"], alone.fold_scores["r2"], atol=TOLERANCE
    )


def test_members_of_another_structure_are_refused_by_name():
    from kubetune.components.execution.fused_group import group_problem
    from tests.contract.executor_contract import request

    def member(number, **params):
        return request("data.parquet", number, "torch_mlp", {**STRUCTURE, **params})

    assert group_problem([member(0), member(1, lr=0.1)]) is None
    assert group_problem([member(0), member(1, width=64)]) == "members differ in width (64 vs 32)"
    assert (
        group_problem([request("d", 0, "random_forest", {}), request("d", 1, "random_forest", {})])
        == "family 'random_forest' cannot train fused"
    )
    assert group_problem([request("d", 0, "torch_cnn", {}), request("d", 1, "torch_cnn", {})]) == (
        "family 'torch_cnn' cannot train fused"
    )


NAS = {
    "n_layers": 3,
    "width_0": 16,
    "width_1": 32,
    "width_2": 32,
    "activation": "gelu",
    "batch_size": 64,
}


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize(
    "norm, residual, tolerance",
    [
        ("none", True, TOLERANCE),
        ("layer", False, TOLERANCE),
        ("layer", True, TOLERANCE),
        # The Linear bias before a batch norm gets only floating-point noise as its gradient (the norm
        # takes the mean out), which Adam scales up to steps of its learning rate; fused and alone add
        # in another order, so their noise, the bias and the running mean differ. Measured: at most
        # 0.020 (accuracy), 0.018 (R^2).
        ("batch", False, 0.03),
        ("batch", True, 0.03),
    ],
)
def test_torch_nas_members_fuse_with_their_norms_and_residual_blocks(
    task, norm, residual, tolerance
):
    frame, target, strategy = problem(task)
    family = get_family("torch_nas")
    params = [{**NAS, "norm": norm, "residual": residual, **member} for member in MEMBERS]
    together = cross_validate_fused(
        [family.build(p, task, 7) for p in params],
        frame,
        target=target,
        strategy=strategy,
        folds=3,
        val_size=0.2,
        seed=7,
        on_fold=[None] * len(params),
    )
    for p, outcome in zip(params, together):
        alone = cross_validate(
            family.build(p, task, 7),
            frame,
            target=target,
            strategy=strategy,
            folds=3,
            val_size=0.2,
            seed=7,
        )
        for metric, scores in alone.fold_scores.items():
            np.testing.assert_allclose(outcome.fold_scores[metric], scores, atol=tolerance, rtol=0)
