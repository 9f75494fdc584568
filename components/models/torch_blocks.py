"""PyTorch building blocks of the architecture-search networks, defined at module level.

Why a module of their own: a fitted model is pickled (MLflow's model, the pip requirements read from
its pickle, PBT checkpoints), and a class defined inside a function cannot be pickled by reference --
the torch_nas refit failed on exactly that. Importing torch here, rather than in torch_nas, keeps
``import kubetune.components.models`` free of torch for the scikit-learn families.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from kubetune.components.models.torch_base import activation


def norm_layer(kind: str, width: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(width)
    if kind == "layer":
        return nn.LayerNorm(width)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm '{kind}' (known: none, batch, layer)")


class MLPBlock(nn.Module):
    """Linear -> norm -> activation -> dropout, plus the input when residual (projected if widths differ)."""

    def __init__(
        self, width_in: int, width_out: int, *, act: str, norm: str, dropout: float, skip: bool
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(width_in, width_out),
            norm_layer(norm, width_out),
            activation(act),
            nn.Dropout(dropout),
        )
        self.skip = (
            (nn.Identity() if width_in == width_out else nn.Linear(width_in, width_out, bias=False))
            if skip
            else None
        )

    def forward(self, x: Any) -> Any:
        out = self.body(x)
        return out + self.skip(x) if self.skip is not None else out
