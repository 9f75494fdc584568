"""The messages that cross every seam: one configuration in (TrialRequest), its scores out (TrialResult).

Both are plain JSON (pydantic) so they cross process and pod boundaries unchanged; the controller,
the executors, the worker and the tracker all speak them, which is why they live at the bottom layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

TrialState = Literal["COMPLETE", "FAIL", "PRUNED"]


@dataclass(frozen=True)
class EvaluationTarget:
    """What a model is scored on: the target column, the columns that are not features, the metrics
    (the first one is the objective's), and the class facts scoring needs."""

    column: str
    drop: tuple[str, ...]
    metrics: tuple[str, ...]
    n_classes: int | None  # None: regression
    # two classes: the one f1, precision, recall score
    positive_class: str | bool | int | None = None


class PBTRound(BaseModel):
    """A population member's round, as the trial that trains it receives it: which member, which
    generation, how many epochs, and where its checkpoint comes from and goes to (a local path or S3)."""

    member: int
    generation: int
    interval: int  # epochs this round trains
    checkpoint_in: str | None = None  # None: fresh weights (the first generation)
    checkpoint_out: str


class Packing(BaseModel):
    """A trial that runs in a group on one worker (executor.packing): the group's name, how it runs
    (``processes``: one process each; ``fused``: one batched model) and how many members it has."""

    group: str
    mode: Literal["processes", "fused"]
    size: int


class TrialRequest(BaseModel):
    study_name: str
    trial_number: int
    params: dict[str, Any]
    fixed_params: dict[str, Any] = Field(default_factory=dict)
    family: str
    task: str
    n_classes: int | None
    # two classes: the one f1, precision, recall score
    positive_class: str | bool | int | None = None
    data_uri: str  # the training part only: held-out rows never reach a trial
    target: str
    drop: list[str] = Field(default_factory=list)
    metrics: list[str]
    validation: str
    folds: int
    val_size: float
    seed: int | None
    storage_url: str | None = None  # for the heartbeat, intermediate reports and the pruner
    trial_id: int | None = None
    heartbeat_interval: float = 10.0
    # resolved settings (kubetune.components.search.pruners.resolve_pruner)
    pruner: dict[str, Any] | None = None
    # a population member's round (kubetune.components.execution.pbt_member)
    pbt: PBTRound | None = None
    # a finalist (kubetune.components.analysis): the folds run once per seed, scores concatenated in
    # this order, so every finalist is scored on the same splits and the scores pair up
    repeat_seeds: list[int] = Field(default_factory=list)
    packing: Packing | None = None  # None: the trial has its worker to itself

    def evaluation_target(self) -> EvaluationTarget:
        return EvaluationTarget(
            self.target, tuple(self.drop), tuple(self.metrics), self.n_classes, self.positive_class
        )


class CallRequest(BaseModel):
    """A batch of scikit-learn fits (kubetune.components.estimators.KubetuneSearchCV) as a trial Job
    runs it: the batch is a cloudpickled joblib call in the artifact store, and the pod writes what it
    returned next to it. Like a TrialRequest it names its study and number (the Job's name and labels)
    and carries no credential: the artifact store's come from the Job's Secrets."""

    study_name: str
    trial_number: int  # the batch's number within its search
    call_uri: str
    output_uri: str


class TrialResult(BaseModel):
    trial_number: int
    state: TrialState
    values: list[float] | None = None
    fold_scores: dict[str, list[float]] = Field(default_factory=dict)
    fit_seconds_mean: float | None = None
    duration_s: float = 0.0
    peak_memory_mb: float | None = None
    error: str | None = None
    # the failure's traceback (redacted), logged beside the one-line reason as the run's error.txt
    traceback: str | None = None
    # lost to infrastructure (worker died, pod evicted): re-run the same params
    retryable: bool = False
    # ran out of memory packed with other trials: its re-run runs alone (and is no mark against it)
    retry_alone: bool = False
    device: str | None = None  # where it trained (cpu, cuda:<name>)
    # its share of the GPU's time: its wall time on the GPU divided among the trials sharing it
    gpu_seconds: float | None = None
    peak_gpu_memory_mb: float | None = (
        None  # what the trial (or its fused group, shared) held at most
    )
    # the device memory trials could use as this one ended (free + its own), for packing: {trials: auto}
    device_memory_mb: float | None = None
    curve: list[tuple[int, float]] = Field(default_factory=list)  # (step, first metric) as reported
    step_unit: str | None = None  # epoch, iteration, tree or fold
    pruned_at_step: int | None = None
