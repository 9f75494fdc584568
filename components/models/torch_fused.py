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

Networks of ``Linear`` layers, element-wise activations, ``Dropout``, ``LayerNorm``, ``BatchNorm1d``
(each member normalized by its own batch statistics, with its own running ones) and residual blocks
fuse: torch_mlp's and torch_nas's. Anything else (torch_cnn's convolutions) is refused with the
layer's name.
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
    """K members of one network structure as stacked tensors, with their own optimizer state."""

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
        # every parameter stacked over the members under its solo name: a Linear weight transposed to
        # (K, in, out) for batched matrix products, a vector (bias, a norm's scale) as (K, 1, width)
        self.params: dict[str, Any] = {}
        self.buffers: dict[str, Any] = {}  # batch norms' running statistics, (K, 1, width)
        solo = [dict(net.named_parameters()) for net in self.templates]
        for name, first in solo[0].items():
            stacked = torch.stack([params[name].detach() for params in solo]).to(self.device)
            self.params[name] = _stacked(stacked, first.dim()).requires_grad_()
        for name, first in self.templates[0].named_buffers():
            if first.dim() == 1:  # running mean and variance; the batch counter is not used
                values = [dict(net.named_buffers())[name] for net in self.templates]
                self.buffers[name] = _stacked(torch.stack(values).to(self.device), 1)
        self.op = _compile(self.templates[0], "")
        self.has_batch_norm = any(
            isinstance(m, nn.BatchNorm1d) for m in self.templates[0].modules()
        )
        self._active: Any = None

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
        return list(self.params.values())

    def forward(self, x: Any, group_draws: Any | None = None, active: Any | None = None) -> Any:
        """``x``: (K, rows, inputs) -> (K, rows, outputs). ``group_draws`` (a generator): training --
        dropout on, batch norms on the batch's statistics, updating the running ones of the ``active``
        (K, 1, 1) members; without it, evaluation."""
        self._active = active
        return self._run(self.op, x, group_draws)

    def _run(self, op: tuple[Any, ...], x: Any, draws: Any | None) -> Any:
        import torch
        from torch.nn import functional

        kind = op[0]
        if kind == "seq":
            for child in op[1]:
                x = self._run(child, x, draws)
            return x
        if kind == "block":  # a residual block: body, plus the input (projected when widths differ)
            out = self._run(op[1], x, draws)
            if op[2] is None:
                return out
            return out + (x if op[2][0] == "act" else self._run(op[2], x, draws))
        if kind == "linear":
            weight, bias = self.params[op[1]], op[2] and self.params[op[2]]
            return torch.baddbmm(bias, x, weight) if bias is not None else torch.bmm(x, weight)
        if kind == "layer_norm":
            normed = functional.layer_norm(x, (x.shape[-1],), None, None, op[3])
            return normed * self.params[op[1]] + self.params[op[2]]
        if kind == "batch_norm":
            return self._batch_norm(op, x, draws is not None)
        if kind == "dropout":
            return x * self._dropout_noise(x, draws) if draws is not None else x
        return op[1](x)  # an element-wise activation, or Identity

    def _batch_norm(self, op: tuple[Any, ...], x: Any, training: bool) -> Any:
        """``nn.BatchNorm1d`` per member: normalized by the member's own batch statistics in training
        (its running statistics updated as torch does, unbiased variance), by its running ones after."""
        import torch

        _, weight, bias, mean_name, var_name, momentum, eps = op
        running_mean, running_var = self.buffers[mean_name], self.buffers[var_name]
        if training:
            mean = x.mean(dim=1, keepdim=True)
            var = x.var(dim=1, unbiased=False, keepdim=True)
            rows = x.shape[1]
            with torch.no_grad():
                new_mean = running_mean * (1 - momentum) + mean * momentum
                unbiased = var * rows / max(rows - 1, 1)
                new_var = running_var * (1 - momentum) + unbiased * momentum
                if self._active is not None:  # a finished or stopped member's statistics stay
                    new_mean = torch.where(self._active, new_mean, running_mean)
                    new_var = torch.where(self._active, new_var, running_var)
                running_mean.copy_(new_mean)
                running_var.copy_(new_var)
        else:
            mean, var = running_mean, running_var
        return (x - mean) * torch.rsqrt(var + eps) * self.params[weight] + self.params[bias]

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

        network = copy.deepcopy(self.templates[index])
        state = network.state_dict()
        with torch.no_grad():
            for name, stacked in {**self.params, **self.buffers}.items():
                value = stacked[index]
                state[name] = (value.t() if state[name].dim() == 2 else value[0]).detach().cpu()
        network.load_state_dict(state)
        return network.eval()


def _stacked(values: Any, dim: int) -> Any:
    """(K, out, in) Linear weights as (K, in, out); (K, width) vectors as (K, 1, width)."""
    return values.transpose(1, 2).contiguous() if dim == 2 else values.unsqueeze(1)


def _compile(module: Any, prefix: str) -> tuple[Any, ...]:
    """The network as a tree of operations on the stacked tensors, named as the solo parameters are."""
    from torch import nn

    from kubetune.components.models.torch_blocks import MLPBlock

    if isinstance(module, nn.Sequential):
        return ("seq", [_compile(child, f"{prefix}{i}.") for i, child in enumerate(module)])
    if isinstance(module, MLPBlock):
        skip = None if module.skip is None else _compile(module.skip, f"{prefix}skip.")
        return ("block", _compile(module.body, f"{prefix}body."), skip)
    if isinstance(module, nn.Linear):
        return ("linear", f"{prefix}weight", f"{prefix}bias" if module.bias is not None else None)
    if isinstance(module, nn.LayerNorm) and module.elementwise_affine:
        return ("layer_norm", f"{prefix}weight", f"{prefix}bias", module.eps)
    if isinstance(module, nn.BatchNorm1d) and module.affine and module.momentum is not None:
        return (
            "batch_norm",
            f"{prefix}weight",
            f"{prefix}bias",
            f"{prefix}running_mean",
            f"{prefix}running_var",
            module.momentum,
            module.eps,
        )
    if isinstance(module, nn.Dropout):
        return ("dropout",)
    if isinstance(module, (nn.ReLU, nn.GELU, nn.Tanh, nn.SiLU, nn.Identity)):
        return ("act", module)
    raise ValueError(f"cannot train {type(module).__name__} layers fused")


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
            if fused.has_batch_norm and index.shape[1] < 2 and n_rows > 1:
                continue  # as alone: batch norm cannot train on a one-row batch
            out = fused.forward(features[index], dropout_draws, active)
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
