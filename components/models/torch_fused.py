"""Several configurations of one PyTorch MLP structure trained as one batched model.

Small networks leave a GPU idle: one trial's matrix products are too small to fill it, and each step
pays Python's and the kernel launches' fixed cost. Stacking K members' weights as ``(K, in, out)``
tensors turns K trainings into one: every step is one batched matrix product per layer for all of
them, as HFTA (MLSys 2021) fuses training jobs.

Each member stays its own configuration, and trains as it would alone:

- its initial weights are the ones it would start from alone (its network built right after
  ``torch.manual_seed(its seed)``, then stacked);
- its rows come in its own order (its own generator, seeded and drawn as the solo loop draws it);
- its learning rate, weight decay and epochs are its own: the optimizer is AdamW written out over the
  stacked tensors with per-member hyperparameters (the same arithmetic as ``torch.optim.AdamW``);
- its loss is its own batch mean; the members' losses are summed, so each member's gradient is the
  gradient of its own loss and a member that diverges to NaN does not touch the others;
- a member whose epochs are done, or that was stopped (pruned), is masked out: it no longer moves.

- on the CPU its dropout masks are the ones it would draw alone.

So on the CPU a fused member ends where it would alone, up to floating-point summation order
(tests/unit/test_torch_fused.py states the tolerance). On a GPU, dropout masks are drawn for the whole
group at once (one draw per layer and step rather than one per member): a member with dropout sees other
masks than it would alone -- the same distribution, another draw.

Only networks made of ``Linear`` layers, element-wise activations and ``Dropout`` fuse (torch_mlp's);
anything else (normalization layers, torch_nas's cells) is refused with the layer's name.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from kubetune.components.models.torch_base import (
    TorchClassifierMixin,
    TorchEstimatorBase,
    resolve_device,
)

BETAS = (0.9, 0.999)  # torch.optim.AdamW's defaults, which the solo loop uses
EPS = 1e-8
# (epochs done, the members that trained this epoch, the fused model) -> members to stop now
EpochCallback = Callable[[int, list[int], "FusedMLP"], Iterable[int]]


class FusedMLP:
    """K members of one MLP structure as stacked tensors, with their own optimizer state."""

    def __init__(
        self, members: Sequence[TorchEstimatorBase], n_inputs: int, n_outputs: int
    ) -> None:
        import torch
        from torch import nn

        self.members = list(members)
        self.device = resolve_device(str(getattr(self.members[0], "device", "auto")))
        self.templates: list[Any] = []
        # where each member's dropout draws would start alone: the global generator right after its
        # initialisation (on the CPU; see ``forward`` for a GPU)
        self.dropout_generators: list[Any] = []
        for member in self.members:
            torch.manual_seed(_seed(member))
            self.templates.append(member._network(n_inputs, n_outputs))
            generator = torch.Generator()
            generator.set_state(torch.get_rng_state())
            self.dropout_generators.append(generator)
        self.layers: list[
            tuple[str, Any]
        ] = []  # ("linear", index into weights) | ("dropout", None) | ("act", module)
        self.weights: list[Any] = []  # (K, in, out) per Linear: the solo weight transposed
        self.biases: list[Any] = []  # (K, 1, out)
        for position, layer in enumerate(self.templates[0]):
            if isinstance(layer, nn.Linear):
                stacked = [net[position] for net in self.templates]
                weight = torch.stack([m.weight.detach().t() for m in stacked]).to(self.device)
                bias = torch.stack([m.bias.detach().unsqueeze(0) for m in stacked]).to(self.device)
                self.weights.append(weight.requires_grad_())
                self.biases.append(bias.requires_grad_())
                self.layers.append(("linear", len(self.weights) - 1))
            elif isinstance(layer, nn.Dropout):
                self.layers.append(("dropout", None))
            elif isinstance(layer, (nn.ReLU, nn.GELU, nn.Tanh, nn.SiLU, nn.Identity)):
                self.layers.append(("act", layer))
            else:
                raise ValueError(f"cannot train {type(layer).__name__} layers fused")

        def per_member(values: list[float]) -> Any:
            return torch.tensor(values, dtype=torch.float32, device=self.device).view(-1, 1, 1)

        self.lr = per_member([float(m.lr) for m in self.members])
        self.weight_decay = per_member([float(m.weight_decay) for m in self.members])
        self.dropout = [float(getattr(m, "dropout", 0.0)) for m in self.members]
        self.keep = 1.0 - per_member(self.dropout)
        self.epochs = [int(m.epochs) for m in self.members]
        self._exp_avg = [torch.zeros_like(p) for p in self.parameters()]
        self._exp_avg_sq = [torch.zeros_like(p) for p in self.parameters()]
        self._step = 0

    def parameters(self) -> list[Any]:
        return [*self.weights, *self.biases]

    def forward(self, x: Any, group_draws: Any | None = None) -> Any:
        """``x``: (K, rows, inputs) -> (K, rows, outputs); ``group_draws`` (a generator): training,
        with dropout."""
        import torch

        for kind, item in self.layers:
            if kind == "linear":
                x = torch.baddbmm(self.biases[item], x, self.weights[item])
            elif kind == "dropout" and group_draws is not None:
                x = x * self._dropout_noise(x, group_draws)
            elif kind == "act":
                x = item(x)
        return x

    def _dropout_noise(self, x: Any, group_draws: Any) -> Any:
        """Dropout's kept-and-rescaled mask, (K, rows, width). On the CPU each member draws from its
        own generator exactly as ``nn.Dropout`` would alone (Bernoulli(keep) / keep; nothing drawn
        at p = 0), so a fused member reproduces its solo run. On a GPU one draw covers the group: K
        draws per layer and step would cost K kernel launches, which is what fusing saves."""
        import torch

        if x.device.type != "cpu":
            draw = torch.rand(x.shape, generator=group_draws, device=x.device)
            scale = torch.where(self.keep > 0, 1.0 / self.keep.clamp_min(1e-12), 0.0)
            return (draw < self.keep) * scale
        masks = []
        for p, generator in zip(self.dropout, self.dropout_generators):
            if p == 0 or p == 1:
                masks.append(torch.full(x.shape[1:], 1.0 - p))
            else:
                masks.append(
                    torch.empty(x.shape[1:]).bernoulli_(1 - p, generator=generator).div_(1 - p)
                )
        return torch.stack(masks)

    def predict(self, X: np.ndarray, members: Sequence[int] | None = None) -> np.ndarray:
        """Every member's raw outputs on the same rows: (K, rows, outputs)."""
        import torch

        with torch.no_grad():
            features = torch.as_tensor(np.asarray(X, dtype=np.float32), device=self.device)
            out = self.forward(features.unsqueeze(0).expand(len(self.members), -1, -1))
        result = out.cpu().numpy()
        return result if members is None else result[list(members)]

    def step(self, active: Any) -> None:
        """One AdamW step for the members where ``active`` (K, 1, 1) is true; the others stay put."""
        import torch

        self._step += 1
        beta1, beta2 = BETAS
        correction1 = 1 - beta1**self._step
        correction2_sqrt = math.sqrt(1 - beta2**self._step)
        with torch.no_grad():
            for param, exp_avg, exp_avg_sq in zip(
                self.parameters(), self._exp_avg, self._exp_avg_sq
            ):
                grad = param.grad
                if grad is None:
                    continue
                decayed = param * (1 - self.lr * self.weight_decay)
                new_avg = exp_avg.lerp(grad, 1 - beta1)
                new_avg_sq = exp_avg_sq * beta2 + grad * grad * (1 - beta2)
                denom = new_avg_sq.sqrt() / correction2_sqrt + EPS
                updated = decayed - (self.lr / correction1) * new_avg / denom
                param.copy_(torch.where(active, updated, param))
                exp_avg.copy_(torch.where(active, new_avg, exp_avg))
                exp_avg_sq.copy_(torch.where(active, new_avg_sq, exp_avg_sq))
                param.grad = None

    def member_network(self, index: int) -> Any:
        """Member ``index``'s weights as the network it would have trained alone, on the CPU."""
        import torch
        from torch import nn

        network = copy.deepcopy(self.templates[index])
        linears = [layer for layer in network if isinstance(layer, nn.Linear)]
        with torch.no_grad():
            for layer, weight, bias in zip(linears, self.weights, self.biases):
                layer.weight.copy_(weight[index].t().cpu())
                layer.bias.copy_(bias[index, 0].cpu())
        return network.eval()


def fit_fused(
    members: Sequence[TorchEstimatorBase],
    X: np.ndarray,
    y: np.ndarray,
    on_epoch: EpochCallback | None = None,
    dropout_seed: int = 0,
) -> list[TorchEstimatorBase]:
    """Train ``members`` (unfitted estimators of one structure and batch size, one task) together on
    the same rows; returns each one fitted, as its own ``fit(X, y)`` would leave it (``network_``,
    ``classes_`` or the target's scaling), except that members stopped by ``on_epoch`` keep the weights
    they had then."""
    import torch

    classifier = isinstance(members[0], TorchClassifierMixin)
    if classifier:
        classes, encoded = np.unique(np.asarray(y), return_inverse=True)
        targets_np: np.ndarray = encoded.astype(np.int64)
        n_outputs = len(classes)
    else:
        values = np.asarray(y, dtype=np.float32)
        y_mean, y_std = float(values.mean()), float(values.std() or 1.0)
        targets_np = ((values - y_mean) / y_std).reshape(-1, 1)
        n_outputs = 1
    features_np = np.asarray(X, dtype=np.float32)
    for member in members:  # set before training: ``on_epoch`` scores the members as they go
        member.n_features_in_ = features_np.shape[1]
        if classifier:
            member.classes_ = classes
        else:
            member.y_mean_, member.y_std_ = y_mean, y_std
    fused = FusedMLP(members, features_np.shape[1], n_outputs)
    device = fused.device
    features = torch.as_tensor(features_np, device=device)
    targets = torch.as_tensor(targets_np, device=device)
    n_rows, count = features.shape[0], len(members)
    batch = max(1, min(int(members[0].batch_size), n_rows))
    orders = [torch.Generator().manual_seed(_seed(m)) for m in members]
    dropout_draws = torch.Generator(device=device).manual_seed(dropout_seed)
    stopped = [False] * count
    for epoch in range(max(fused.epochs)):
        training = [not stopped[m] and epoch < fused.epochs[m] for m in range(count)]
        if not any(training):
            break
        active = torch.tensor(training, device=device).view(-1, 1, 1)
        weight = active.view(-1).float()
        order = torch.stack([torch.randperm(n_rows, generator=g) for g in orders]).to(device)
        for start in range(0, n_rows, batch):
            index = order[:, start : start + batch]
            out = fused.forward(features[index], dropout_draws)
            if classifier:
                losses = torch.nn.functional.cross_entropy(
                    out.transpose(1, 2), targets[index], reduction="none"
                ).mean(dim=1)
            else:
                losses = ((out - targets[index]) ** 2).mean(dim=(1, 2))
            # a diverged member's NaN must not reach the others through the sum
            (torch.nan_to_num(losses) * weight).sum().backward()
            fused.step(active)
        if on_epoch is not None:
            trained = [m for m in range(count) if training[m]]
            for m in on_epoch(epoch + 1, trained, fused):
                stopped[m] = True
    for position, member in enumerate(members):
        member.network_ = fused.member_network(position)
        member.device_used_ = device
    return list(members)


def with_outputs(member: TorchEstimatorBase, outputs: np.ndarray) -> TorchEstimatorBase:
    """``member`` answering every prediction with ``outputs`` (its raw outputs on some rows, from
    ``FusedMLP.predict``): scored on those rows by the same scorers as a fitted model, without
    building its network."""
    view = copy.copy(member)
    view._forward = lambda X: outputs  # type: ignore[method-assign]
    return view


def _seed(member: TorchEstimatorBase) -> int:
    seed = getattr(member, "seed", None)
    return 0 if seed is None else int(seed)
