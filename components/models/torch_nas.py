"""Architecture search: PyTorch families whose structure is part of the search space.

The structure is ordinary hyperparameters with conditions (``width_2`` exists only when ``n_layers``
is 3 or more), so any sampler searches it define-by-run and MLflow records it like any other
configuration. ``torch_nas``: a multilayer perceptron with a width per layer, activation,
normalization, dropout and residual connections. ``torch_cnn``: a small convolutional network for
image-shaped rows (for example scikit-learn's digits, 64 pixels = 1x8x8).
"""

from __future__ import annotations

import math
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
    ACTIVATIONS,
    TorchClassifierMixin,
    TorchEstimatorBase,
    TorchRegressorMixin,
    activation,
)

MAX_LAYERS = 4
MAX_BLOCKS = 3


def _training_space() -> dict[str, dict[str, Any]]:
    return {
        "lr": log_float(1e-4, 3e-2),
        "weight_decay": log_float(1e-6, 1e-2),
        "batch_size": categorical(32, 64, 128, 256),
        "epochs": int_range(5, 60, log=True),
    }


def _per_layer(
    prefix: str, count_param: str, maximum: int, low: int, high: int
) -> dict[str, dict[str, Any]]:
    """``prefix_i`` for i < maximum, each active only when ``count_param`` is more than i."""
    space: dict[str, dict[str, Any]] = {}
    for index in range(maximum):
        param = int_range(low, high, log=True)
        if index > 0:
            param["when"] = {count_param: list(range(index + 1, maximum + 1))}
        space[f"{prefix}_{index}"] = param
    return space


class TorchNASFamily(ModelFamily):
    name = "torch_nas"
    tasks = BOTH
    fidelity = NEURAL_NETWORK_EPOCHS
    checkpoints = True
    structure = (
        "n_layers",
        *(f"width_{i}" for i in range(MAX_LAYERS)),
        "activation",
        "norm",
        "residual",
    )
    # members that share these (and the batch size) train as one batched model
    # (kubetune.components.models.torch_fused)
    fused_structure = (*structure, "batch_size")

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {
            "n_layers": int_range(1, MAX_LAYERS),
            **_per_layer("width", "n_layers", MAX_LAYERS, 16, 256),
            "activation": categorical(*ACTIVATIONS),
            "norm": categorical("none", "batch", "layer"),
            "dropout": {"type": "float", "low": 0.0, "high": 0.5},
            "residual": categorical(False, True, when={"n_layers": list(range(2, MAX_LAYERS + 1))}),
            **_training_space(),
        }

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        cls = TorchNASClassifier if task == "classification" else TorchNASRegressor
        return cls(seed=seed, **params)


class TorchCNNFamily(ModelFamily):
    name = "torch_cnn"
    tasks = BOTH
    fidelity = NEURAL_NETWORK_EPOCHS
    checkpoints = True
    structure = (
        "n_blocks",
        *(f"channels_{i}" for i in range(MAX_BLOCKS)),
        "kernel_size",
        "activation",
        "norm",
        "head_width",
        "image_shape",
    )

    def default_space(self, task: str) -> dict[str, dict[str, Any]]:
        return {
            "n_blocks": int_range(1, MAX_BLOCKS),
            **_per_layer("channels", "n_blocks", MAX_BLOCKS, 8, 64),
            "kernel_size": categorical(3, 5),
            "activation": categorical("relu", "gelu", "silu"),
            "norm": categorical("none", "batch"),
            "dropout": {"type": "float", "low": 0.0, "high": 0.5},
            "head_width": int_range(16, 256, log=True),
            **_training_space(),
        }

    def check_features(self, n_features: int, params: dict[str, Any]) -> str | None:
        """Preflight: the reason the data's feature count cannot form the image (``model.params.image_shape``
        or a square single channel), or None; caught before any trial instead of failing every one."""
        try:
            image_shape(n_features, str(params.get("image_shape", "auto")))
        except ValueError as error:
            return f"model.params.image_shape: {error}"
        return None

    def build(self, params: dict[str, Any], task: str, seed: int | None) -> Any:
        cls = TorchCNNClassifier if task == "classification" else TorchCNNRegressor
        return cls(seed=seed, **params)


def _mlp_network(
    widths: list[int],
    n_inputs: int,
    n_outputs: int,
    act: str,
    norm: str,
    dropout: float,
    residual: bool,
) -> Any:
    from torch import nn

    from kubetune.components.models.torch_blocks import MLPBlock

    blocks: list[Any] = []
    width_in = n_inputs
    for index, width in enumerate(widths):
        blocks.append(
            MLPBlock(
                width_in, width, act=act, norm=norm, dropout=dropout, skip=residual and index > 0
            )
        )
        width_in = width
    return nn.Sequential(*blocks, nn.Linear(width_in, n_outputs))


class _TorchNAS(TorchEstimatorBase):
    def __init__(
        self,
        n_layers: int = 2,
        width_0: int = 64,
        width_1: int = 64,
        width_2: int = 64,
        width_3: int = 64,
        activation: str = "relu",
        norm: str = "none",
        dropout: float = 0.1,
        residual: bool = False,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 64,
        epochs: int = 20,
        seed: int | None = 0,
        device: str = "auto",
    ) -> None:
        self.n_layers = n_layers
        self.width_0, self.width_1, self.width_2, self.width_3 = width_0, width_1, width_2, width_3
        self.activation = activation
        self.norm = norm
        self.dropout = dropout
        self.residual = residual
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.seed = seed
        self.device = device

    def widths(self) -> list[int]:
        count = int(self.n_layers)
        if not 1 <= count <= MAX_LAYERS:
            raise ValueError(f"n_layers must be 1..{MAX_LAYERS}, got {count}")
        return [int(getattr(self, f"width_{i}")) for i in range(count)]

    def _network(self, n_inputs: int, n_outputs: int) -> Any:
        return _mlp_network(
            self.widths(),
            n_inputs,
            n_outputs,
            self.activation,
            self.norm,
            float(self.dropout),
            bool(self.residual),
        )


def image_shape(n_features: int, shape: str) -> tuple[int, int, int]:
    """``"auto"``: one channel, square (64 features -> 1x8x8); else ``"CxHxW"``, which must match."""
    if shape == "auto":
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"{n_features} features are not a square image; set image_shape: CxHxW"
            )
        return 1, side, side
    try:
        channels, height, width = (int(part) for part in shape.lower().split("x"))
    except ValueError:
        raise ValueError(f"image_shape '{shape}' is not CxHxW (for example 3x32x32)") from None
    if channels * height * width != n_features:
        raise ValueError(
            f"image_shape {shape} has {channels * height * width} values, the data has {n_features} features"
        )
    return channels, height, width


def _cnn_network(
    shape: tuple[int, int, int],
    channels: list[int],
    kernel: int,
    act: str,
    norm: str,
    dropout: float,
    head: int,
    n_outputs: int,
) -> Any:
    from torch import nn

    layers: list[Any] = [nn.Unflatten(1, shape)]
    channels_in, height, width = shape
    for channels_out in channels:
        layers += [nn.Conv2d(channels_in, channels_out, kernel, padding=kernel // 2)]
        layers += [
            nn.BatchNorm2d(channels_out) if norm == "batch" else nn.Identity(),
            activation(act),
        ]
        if min(height, width) >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        channels_in = channels_out
    layers += [
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(channels_in * height * width, head),
        activation(act),
        nn.Linear(head, n_outputs),
    ]
    return nn.Sequential(*layers)


class _TorchCNN(TorchEstimatorBase):
    def __init__(
        self,
        n_blocks: int = 2,
        channels_0: int = 16,
        channels_1: int = 32,
        channels_2: int = 64,
        kernel_size: int = 3,
        activation: str = "relu",
        norm: str = "batch",
        dropout: float = 0.1,
        head_width: int = 64,
        image_shape: str = "auto",
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 64,
        epochs: int = 20,
        seed: int | None = 0,
        device: str = "auto",
    ) -> None:
        self.n_blocks = n_blocks
        self.channels_0, self.channels_1, self.channels_2 = channels_0, channels_1, channels_2
        self.kernel_size = kernel_size
        self.activation = activation
        self.norm = norm
        self.dropout = dropout
        self.head_width = head_width
        self.image_shape = image_shape
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.seed = seed
        self.device = device

    def _network(self, n_inputs: int, n_outputs: int) -> Any:
        count = int(self.n_blocks)
        if not 1 <= count <= MAX_BLOCKS:
            raise ValueError(f"n_blocks must be 1..{MAX_BLOCKS}, got {count}")
        channels = [int(getattr(self, f"channels_{i}")) for i in range(count)]
        shape = image_shape(n_inputs, str(self.image_shape))
        return _cnn_network(
            shape,
            channels,
            int(self.kernel_size),
            self.activation,
            self.norm,
            float(self.dropout),
            int(self.head_width),
            n_outputs,
        )


class TorchNASClassifier(TorchClassifierMixin, ClassifierMixin, _TorchNAS):
    pass


class TorchNASRegressor(TorchRegressorMixin, RegressorMixin, _TorchNAS):
    pass


class TorchCNNClassifier(TorchClassifierMixin, ClassifierMixin, _TorchCNN):
    pass


class TorchCNNRegressor(TorchRegressorMixin, RegressorMixin, _TorchCNN):
    pass
