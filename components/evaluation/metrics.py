"""Objective metrics: the names a spec may use, their scikit-learn scorers and natural direction.

Values are always reported in natural units (rmse is positive and minimized), never as scikit-learn's
negated ``neg_*`` scores, because users compare them in the MLflow UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    name: str
    scorer: str  # scikit-learn scorer name
    sign: int  # multiply the scorer's value by this to get natural units
    direction: str
    tasks: frozenset[str]
    multiclass_scorer: str | None = None  # used instead when the target has > 2 classes
    cost: bool = False  # measured from the fitted model (time, size), not scored against the labels


_CLS = frozenset({"classification"})
_REG = frozenset({"regression"})
_BOTH = _CLS | _REG

METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", "accuracy", 1, "maximize", _CLS),
        Metric("balanced_accuracy", "balanced_accuracy", 1, "maximize", _CLS),
        Metric("f1", "f1", 1, "maximize", _CLS, multiclass_scorer="f1_macro"),
        Metric("f1_macro", "f1_macro", 1, "maximize", _CLS),
        Metric("f1_weighted", "f1_weighted", 1, "maximize", _CLS),
        Metric("precision", "precision", 1, "maximize", _CLS, multiclass_scorer="precision_macro"),
        Metric("recall", "recall", 1, "maximize", _CLS, multiclass_scorer="recall_macro"),
        Metric("roc_auc", "roc_auc", 1, "maximize", _CLS, multiclass_scorer="roc_auc_ovr"),
        Metric("average_precision", "average_precision", 1, "maximize", _CLS),
        Metric("log_loss", "neg_log_loss", -1, "minimize", _CLS),
        Metric("mcc", "matthews_corrcoef", 1, "maximize", _CLS),
        Metric("r2", "r2", 1, "maximize", _REG),
        Metric("rmse", "neg_root_mean_squared_error", -1, "minimize", _REG),
        Metric("mse", "neg_mean_squared_error", -1, "minimize", _REG),
        Metric("mae", "neg_mean_absolute_error", -1, "minimize", _REG),
        Metric("mape", "neg_mean_absolute_percentage_error", -1, "minimize", _REG),
        Metric("explained_variance", "explained_variance", 1, "maximize", _REG),
        # costs, for trade-offs against a score with several objectives (kubetune.components.evaluation.cross_validation.measure_cost)
        Metric(
            "inference_ms", "", 1, "minimize", _BOTH, cost=True
        ),  # milliseconds to predict 1,000 rows
        Metric(
            "model_size_kb", "", 1, "minimize", _BOTH, cost=True
        ),  # the fitted pipeline, pickled
    ]
}


def natural_direction(metric: str) -> str:
    return METRICS[metric].direction


def scorer_name(metric: str, n_classes: int | None) -> str:
    """The scikit-learn scorer for ``metric``; multi-class targets get the averaged variant."""
    spec = METRICS[metric]
    if n_classes is not None and n_classes > 2:
        if metric == "average_precision":
            return "average_precision"
        return spec.multiclass_scorer or spec.scorer
    return spec.scorer


# Metrics that score one class of a two-class target (scikit-learn's pos_label): the scikit-learn
# function and the model output it reads. Their scorers assume the class is 1, so on labels such as
# "churned" / "stayed" every trial failed ("pos_label=1 is not a valid label").
_POSITIVE_CLASS_SCORING: dict[str, tuple[str, str | tuple[str, ...]]] = {
    "f1": ("f1_score", "predict"),
    "precision": ("precision_score", "predict"),
    "recall": ("recall_score", "predict"),
    "average_precision": ("average_precision_score", ("decision_function", "predict_proba")),
}


def scores_a_positive_class(metric: str) -> bool:
    return metric in _POSITIVE_CLASS_SCORING


def default_positive_class(
    labels: list[Any],
) -> Any:  # a label: str, int or bool, as the data has it
    """The later of two labels in sort order: 1 of 0/1, True of booleans -- the class scikit-learn's
    roc_auc already treats as positive, so every metric of a study agrees on it."""
    try:
        return max(labels)
    except TypeError:  # labels of mixed types
        return max(labels, key=str)


def build_scorer(metric: str, n_classes: int | None, positive_class: Any = None) -> Any:
    """The scikit-learn scorer for ``metric``; on a two-class target, one that scores ``positive_class``."""
    from sklearn import metrics as sklearn_metrics

    if n_classes == 2 and positive_class is not None and metric in _POSITIVE_CLASS_SCORING:
        function, response = _POSITIVE_CLASS_SCORING[metric]
        return sklearn_metrics.make_scorer(
            getattr(sklearn_metrics, function), response_method=response, pos_label=positive_class
        )
    return sklearn_metrics.get_scorer(scorer_name(metric, n_classes))


def to_natural(metric: str, score: float) -> float:
    return METRICS[metric].sign * float(score)


def metric_fits_task(metric: str, task: str) -> bool:
    return task in METRICS[metric].tasks
