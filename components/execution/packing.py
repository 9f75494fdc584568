"""How many trials one worker runs at once, and which trials may share it (``executor.packing``); pure.

A worker is a local worker or one trial pod with its one GPU. ``processes`` runs K trial processes on
it, each with its own CUDA context; ``fused`` trains K configurations that share a network structure
as one batched model in one process (kubetune.components.execution.fused_group).

``trials: auto`` is sized from what the first trial measured: its peak GPU memory against the memory
the device had for trials, keeping a fifth of it spare (allocators fragment, and trials of other
configurations are larger than the first). A process also pays its own CUDA context. Without a GPU,
processes would only split the cores the workers already split, so auto packs none; a fused group
still saves each member the per-step Python and dispatch cost, so auto fuses ``CPU_FUSED_GROUP``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kubetune.components.core import TrialResult

PackingMode = Literal["processes", "fused"]

MEMORY_SHARE = 0.8
CUDA_CONTEXT_MB = 500.0  # what one process's CUDA context holds on the device, before any tensor
MAX_AUTO_PROCESSES = 32
MAX_AUTO_FUSED = 256
CPU_FUSED_GROUP = 16


@dataclass(frozen=True)
class PackingPlan:
    """How an executor's workers are packed: the mode, K now (1 until an auto plan is sized), whether
    K is still to be sized from the first trial, and what fused members must share."""

    mode: PackingMode
    size: int
    auto: bool = False
    structure: tuple[str, ...] | None = None  # fused: the family's fused_structure

    def shared_by_group(self, first: dict[str, Any]) -> dict[str, Any] | None:
        """The parameters a fused group's later members get pinned, as its first member drew them;
        None where members share nothing (processes)."""
        if self.mode != "fused" or not self.structure:
            return None
        return {name: first[name] for name in self.structure if name in first}


def resolve_mode(mode: str, family_fuses: bool) -> PackingMode:
    """``auto``: fused where the family can train fused, else processes."""
    if mode == "auto":
        return "fused" if family_fuses else "processes"
    return "fused" if mode == "fused" else "processes"


def auto_group_size(mode: PackingMode, measured: TrialResult) -> int:
    """K for ``trials: auto`` from one trial's measurements (see the module's docstring)."""
    free, peak = measured.device_memory_mb, measured.peak_gpu_memory_mb
    if not free or peak is None:
        return 1 if mode == "processes" else CPU_FUSED_GROUP
    if mode == "processes":
        per_trial, most = peak + CUDA_CONTEXT_MB, MAX_AUTO_PROCESSES
    else:
        per_trial, most = max(peak, 1.0), MAX_AUTO_FUSED
    return max(1, min(most, int(MEMORY_SHARE * free // per_trial)))


def structure_key(params: dict[str, Any], structure: Sequence[str] | None) -> tuple[Any, ...]:
    """What members of one fused group share; () when any trials may share a worker (processes)."""
    if structure is None:
        return ()
    return tuple(params.get(name) for name in structure)
