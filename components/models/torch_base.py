"""The training loop every PyTorch family shares, behind the scikit-learn estimator API.

Wrapping networks as estimators lets them sit in the same preprocessing Pipeline, cross-validation and
MLflow logging as every other family. Subclasses only say which network to build (``_network``); the
loop here seeds training (same configuration, same score on the CPU), runs on CUDA when a GPU is present
(``device="auto"``), calls ``epoch_callback`` after every epoch (learning curves and pruning), and can
resume from a checkpoint (population-based training copies a better member's weights and optimizer).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from sklearn.base import BaseEstimator

ACTIVATIONS = ("relu", "gelu", "tanh", "silu")


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def activation(name: str) -> Any:
    from torch import nn

    layers = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}
    if name not in layers:
        raise ValueError(f"unknown activation '{name}' (known: {', '.join(ACTIVATIONS)})")
    return layers[name]()


def save_checkpoint(state: dict[str, Any]) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def load_checkpoint(data: bytes) -> dict[str, Any]:
    import torch

    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


class TorchEstimatorBase(BaseEstimator):
    """Subclasses define ``__init__`` (their hyperparameters, for scikit-learn's get_params) with at
    least lr, weight_decay, batch_size, epochs, seed and device, and ``_network(n_inputs, n_outputs)``."""

    checkpoints = True
    # Not hyperparameters (scikit-learn's clone leaves them out); set by the trial runner before fit:
    epoch_callback: Callable[[int, TorchEstimatorBase], None] | None = None  # (epochs done, self)
    # a checkpoint: network and optimizer state, epochs done
    resume_from: dict[str, Any] | None = None

    def _network(self, n_inputs: int, n_outputs: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit_tensors(self, X: np.ndarray, y: np.ndarray, n_outputs: int, loss_fn: Any) -> None:
        import torch

        seed = 0 if self.seed is None else int(self.seed)
        torch.manual_seed(seed)
        device = resolve_device(self.device)
        generator = torch.Generator().manual_seed(seed)
        features = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
        targets = torch.as_tensor(y, device=device)
        network = self._network(features.shape[1], n_outputs).to(device)
        # fused: one kernel per step instead of one per tensor group; small MLPs on a GPU are launch-bound
        # (measured on an H100: 2.7 -> 1.8 ms per step, docs/benchmarks.md)
        optimizer = torch.optim.AdamW(
            network.parameters(),
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
            fused=device.startswith("cuda"),
        )
        done = self._resume(network, optimizer)
        n_rows = features.shape[0]
        batch = max(1, min(int(self.batch_size), n_rows))
        # batch norm cannot train on a one-row batch (a trailing one is skipped)
        skip_single = any(
            isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in network.modules()
        )
        for epoch in range(int(self.epochs)):
            network.train()
            order = torch.randperm(n_rows, generator=generator).to(device)
            for start in range(0, n_rows, batch):
                index = order[start : start + batch]
                if skip_single and len(index) < 2 and n_rows > 1:
                    continue
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(network(features[index]), targets[index])
                loss.backward()
                optimizer.step()
            self.network_ = network.eval()
            if self.epoch_callback is not None:
                self.epoch_callback(done + epoch + 1, self)
        self.network_ = network.cpu().eval()  # a fitted model loads anywhere, GPU or not
        self.training_state_ = {
            "network": network.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epochs_done": done + int(self.epochs),
        }
        self.n_features_in_ = features.shape[1]
        self.device_used_ = device

    def _resume(self, network: Any, optimizer: Any) -> int:
        """Load a checkpoint's weights and optimizer state; this member's own lr and weight decay win."""
        if not self.resume_from:
            return 0
        network.load_state_dict(self.resume_from["network"])
        optimizer.load_state_dict(self.resume_from["optimizer"])
        for group in optimizer.param_groups:
            group["lr"], group["weight_decay"] = float(self.lr), float(self.weight_decay)
        return int(self.resume_from.get("epochs_done", 0))

    def _forward(self, X: np.ndarray) -> np.ndarray:
        import torch

        network = self.network_
        device = next(network.parameters()).device
        with torch.no_grad():
            out = network(torch.as_tensor(np.asarray(X, dtype=np.float32), device=device))
        return out.cpu().numpy()


class _TrainsTensors(Protocol):
    """What the task mixins need of the estimator they are mixed into (TorchEstimatorBase)."""

    classes_: np.ndarray
    y_mean_: float
    y_std_: float

    def _fit_tensors(self, X: Any, y: np.ndarray, n_outputs: int, loss: Any) -> None: ...

    def _forward(self, X: Any) -> np.ndarray: ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...


class TorchClassifierMixin:
    """fit / predict / predict_proba for classification: class labels encoded, cross-entropy loss."""

    def fit(self: _TrainsTensors, X: np.ndarray, y: np.ndarray) -> Any:
        import torch

        self.classes_, encoded = np.unique(np.asarray(y), return_inverse=True)
        self._fit_tensors(
            X, encoded.astype(np.int64), len(self.classes_), torch.nn.CrossEntropyLoss()
        )
        return self

    def predict_proba(self: _TrainsTensors, X: np.ndarray) -> np.ndarray:
        logits = self._forward(X)
        logits = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict(self: _TrainsTensors, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class TorchRegressorMixin:
    """fit / predict for regression: the target standardized for training, mean-squared-error loss."""

    def fit(self: _TrainsTensors, X: np.ndarray, y: np.ndarray) -> Any:
        import torch

        y = np.asarray(y, dtype=np.float32)
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
        scaled = ((y - self.y_mean_) / self.y_std_).reshape(-1, 1)
        self._fit_tensors(X, scaled, 1, torch.nn.MSELoss())
        return self

    def predict(self: _TrainsTensors, X: np.ndarray) -> np.ndarray:
        return self._forward(X)[:, 0] * self.y_std_ + self.y_mean_
