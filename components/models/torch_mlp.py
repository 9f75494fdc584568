"""A PyTorch multilayer perceptron of fixed shape (depth x width); ``torch_nas`` searches the structure."""

from __future__ import annotations

from typing import Any

from sklearn.base import ClassifierMixin, RegressorMixin

from kubetune.components.models.base import (
    BOTH,
    NEURAL_NETWORK_EPOCHS,
    ModelFamily,
    categorical,
    int_range,
    log_float,
)
from kubetune.components.models.torch_base import (
    TorchClassifierMixin,
    TorchEstimatorBase,
    TorchRegressorMixin,
    resolve_device,
)

__all__ = ["TorchMLPFamily", "TorchMLPClassifier", "TorchMLPRegressor", "resolve_device"]


class TorchMLPFamily(ModelFamily):
    name = "torch_mlp"
    tasks = BOTH
    fidelity = NEURAL_NETWORK_EPOCHS
    checkpoints = True
    # change the weights' shapes: population-based training never perturbs them
    structure = (
        "depth",
        "width",
    )
    # members that share these train as one batched model; the learning rate, weight decay, dropout,
    # epochs and seed stay each member's own (kubetune.components.models.torch_fused)
    fused_structure = ("depth", "width", "batch_size")

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {
            "depth": int_range(1, 4),
            "width": int_range(16, 256, log=True),
            "dropout": {"type": "float", "low": 0.0, "high": 0.5},
            "lr": log_float(1e-4, 3e-2),
            "weight_decay": log_float(1e-6, 1e-2),
            "batch_size": categorical(32, 64, 128, 256),
            "epochs": int_range(5, 60, log=True),
        }

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        cls = TorchMLPClassifier if task == "classification" else TorchMLPRegressor
        return cls(seed=seed, **params)


class _TorchMLP(TorchEstimatorBase):
    def __init__(
        self,
        depth: int = 2,
        width: int = 64,
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 64,
        epochs: int = 20,
        seed: int | None = 0,
        device: str = "auto",
    ) -> None:
        self.depth = depth
        self.width = width
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.seed = seed
        self.device = device

    def _network(self, n_inputs: int, n_outputs: int) -> Any:
        from torch import nn

        layers: list[Any] = []
        width_in = n_inputs
        for _ in range(int(self.depth)):
            layers += [
                nn.Linear(width_in, int(self.width)),
                nn.ReLU(),
                nn.Dropout(float(self.dropout)),
            ]
            width_in = int(self.width)
        layers.append(nn.Linear(width_in, n_outputs))
        return nn.Sequential(*layers)


class TorchMLPClassifier(TorchClassifierMixin, ClassifierMixin, _TorchMLP):
    pass


class TorchMLPRegressor(TorchRegressorMixin, RegressorMixin, _TorchMLP):
    pass
