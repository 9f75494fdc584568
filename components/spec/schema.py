"""The tuning spec: pydantic models of the YAML a user writes.

Every check that needs no data lives here, so a bad spec fails in milliseconds with a one-line message
that names the field (``model.space.max_depth: low (40) is greater than high (32)``) before any data is
loaded, any run is recorded or any trial is started. Checks that need the data (a missing target column,
NaN targets, a metric that does not fit the inferred task) live in ``kubetune.components.pipeline.preflight_checks``.
"""

from __future__ import annotations

import copy
import re
import reprlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kubetune.components.core import SpecError
from kubetune.components.data import PARQUET_SUFFIXES, source_format
from kubetune.components.evaluation import METRICS, natural_direction
from kubetune.components.models import (
    family_names,
    is_custom_family,
    supports_checkpoints,
    supports_fusion,
)
from kubetune.components.spec import kubernetes_settings as k8s

Scalar = str | int | float | bool | None
_AT = "@field:"  # a model-level check names the sub-field it is about: "@field:space.gamma|message"


def field_error(path: str, message: str) -> ValueError:
    """An error raised by a model-level validator that belongs to one of the model's fields."""
    return ValueError(f"{_AT}{path}|{message}")


STUDY_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def study_name_problem(value: str) -> str | None:
    """Why ``value`` cannot name a study (it becomes Job labels, a folder and a database key), or None."""
    if STUDY_NAME_PATTERN.match(value):
        return None
    return f"'{value}' must be 1-63 letters, digits, '.', '_' or '-', starting alphanumeric"


def field_error_text(error: ValueError) -> str:
    """A ``field_error`` (or any ValueError) as ``sub.path: message``, for callers outside pydantic."""
    message = str(error)
    if message.startswith(_AT):
        sub_path, _, message = message.removeprefix(_AT).partition("|")
        return f"{sub_path}: {message}"
    return message


class _Strict(BaseModel):
    """Unknown keys are errors: a typo such as ``n_trails`` must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ParamSpec(_Strict):
    """One search-space dimension: int, float or categorical, optionally conditional (``when``)."""

    type: Literal["int", "float", "categorical"]
    low: float | None = Field(None, allow_inf_nan=False)
    high: float | None = Field(None, allow_inf_nan=False)
    log: bool = False
    step: float | None = Field(None, allow_inf_nan=False)
    choices: list[Scalar] | None = None
    when: dict[str, Scalar | list[Scalar]] | None = None

    @model_validator(mode="after")
    def _check_bounds(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical needs a non-empty 'choices' list")
            if self.low is not None or self.high is not None or self.log or self.step is not None:
                raise ValueError("categorical takes 'choices' only, not low/high/log/step")
            return self
        if self.choices is not None:
            raise ValueError(f"{self.type} takes low/high, not 'choices' (use type: categorical)")
        if self.low is None or self.high is None:
            raise ValueError(f"{self.type} needs both 'low' and 'high'")
        if self.low > self.high:
            raise ValueError(f"low ({_fmt(self.low)}) is greater than high ({_fmt(self.high)})")
        if self.type == "int":
            for name in ("low", "high", "step"):
                value = getattr(self, name)
                if value is not None and float(value) != int(value):
                    raise ValueError(f"int needs an integer '{name}', got {value}")
        if self.log:
            if self.low <= 0:
                raise ValueError(f"log range needs low > 0, got low = {_fmt(self.low)}")
            if self.step is not None and not (self.type == "int" and self.step == 1):
                raise ValueError("'step' cannot be combined with log: true")
        if self.step is not None and self.step <= 0:
            raise ValueError(f"step must be > 0, got {_fmt(self.step)}")
        return self

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) of an int or float parameter; the validator guarantees both are set."""
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} parameter has no bounds")
        return self.low, self.high

    @property
    def options(self) -> list[Scalar]:
        """The choices of a categorical parameter; the validator guarantees a non-empty list."""
        if self.choices is None:
            raise ValueError(f"a {self.type} parameter has no choices")
        return self.choices

    def condition_values(self) -> dict[str, list[Scalar]]:
        """``when`` normalised to lists: ``{kernel: rbf}`` -> ``{kernel: [rbf]}``."""
        return {k: (v if isinstance(v, list) else [v]) for k, v in (self.when or {}).items()}


def _fmt(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


class DataSpec(_Strict):
    source: str = Field(min_length=1, max_length=2048)
    target: str = "target"
    task: Literal["classification", "regression"] | None = None
    test_size: float = Field(0.2, gt=0, lt=1)
    drop: list[str] = Field(
        default_factory=list, description="columns never used as features (ids)"
    )
    missing_values: list[str] | None = Field(
        None,
        description="the CSV cells read as missing; leave out for pandas' list (empty, NA, N/A, None, null, NaN, ...)",
    )
    separator: Literal[",", ";", "\t", "|"] = Field(
        ",", description="the CSV's field separator (';' from a European Excel)"
    )
    decimal: Literal[".", ","] = Field(
        ".", description="the CSV's decimal mark: ',' reads 3,14 as a number"
    )
    encoding: str = Field(
        "utf-8", description="the CSV's text encoding (cp1252 from Excel on Windows)"
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown text encoding '{value}' (for example utf-8, cp1252, latin-1)"
            ) from None
        return value

    @field_validator("source")
    @classmethod
    def _check_source(cls, value: str) -> str:
        if value.startswith("sklearn:") or value.startswith("s3://"):
            return value
        if Path(value).suffix.lower() not in {".csv", *PARQUET_SUFFIXES}:
            raise ValueError(
                f"'{value}' is not sklearn:<name>, s3://bucket/key or a .csv/.parquet path"
            )
        return value

    @model_validator(mode="after")
    def _reading_settings_need_csv(self) -> DataSpec:
        """Parquet and bundled datasets are typed: a missing value is already a null, a number a number."""
        if source_format(self.source) != "csv":
            # by value, not by whether the field was written: the flow re-reads the spec dumped with its defaults
            fields = type(self).model_fields
            given = [
                name
                for name in ("missing_values", "separator", "decimal", "encoding")
                if getattr(self, name) != fields[name].default
            ]
            if given:
                raise field_error(
                    given[0], f"applies to CSV sources only, and '{self.source}' is not one"
                )
        if self.separator == self.decimal:
            raise field_error(
                "decimal",
                f"'{self.decimal}' is also the separator; a CSV whose numbers are written 3,14 separates fields with ';'",
            )
        return self

    @model_validator(mode="after")
    def _drop_lists_features(self) -> DataSpec:
        """The target is never a feature; dropping it read as a valid spec and left one feature fewer counted."""
        if self.target in self.drop:
            raise field_error(
                "drop",
                f"'{self.target}' is the target column; drop lists feature columns never used",
            )
        return self


class ModelSpec(_Strict):
    family: str
    space: dict[str, ParamSpec] | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="fixed, not searched")

    @field_validator("family")
    @classmethod
    def _check_family(cls, value: str) -> str:
        if value in family_names() or is_custom_family(value):
            return value
        raise ValueError(f"unknown model family '{value}' (known: {', '.join(family_names())})")

    @model_validator(mode="after")
    def _check_space(self) -> ModelSpec:
        if self.space is None:
            return self
        if not self.space:
            raise ValueError("space is empty; leave it out to use the family's default space")
        overlap = sorted(set(self.space) & set(self.params))
        if overlap:
            raise field_error(
                f"params.{overlap[0]}",
                f"'{overlap[0]}' is both searched (space) and fixed (params)",
            )
        check_conditions(self.space)
        return self


def check_conditions(space: dict[str, ParamSpec]) -> None:
    """A ``when`` must name an earlier parameter and values that parameter can take."""
    seen: list[str] = []
    for name, param in space.items():
        for parent, values in param.condition_values().items():
            if parent not in space:
                raise field_error(
                    f"space.{name}.when", f"'{parent}' is not a parameter of the space"
                )
            if parent not in seen:
                raise field_error(
                    f"space.{name}.when", f"'{parent}' must be listed before '{name}'"
                )
            choices = space[parent].choices
            if choices is not None:
                bad = [v for v in values if v not in choices]
                if bad:
                    raise field_error(
                        f"space.{name}.when",
                        f"{parent} never takes {bad[0]!r} (choices: {choices})",
                    )
        seen.append(name)


class Bound(_Strict):
    min: float | None = None
    max: float | None = None


class SelectSpec(_Strict):
    """Which Pareto-optimal trial the refit uses with several objectives: the best on ``best`` among
    those within every bound of ``where`` (``{best: accuracy, where: {inference_ms: {max: 5}}}``)."""

    best: str | None = Field(None, description="default: the first metric")
    where: dict[str, Bound] = Field(default_factory=dict)


class ObjectiveSpec(_Strict):
    metric: str | list[str]
    direction: Literal["maximize", "minimize"] | list[Literal["maximize", "minimize"]] | None = None
    select: SelectSpec = Field(default_factory=SelectSpec)
    positive_class: str | bool | int | None = Field(
        None,
        description="two classes: the one f1, precision, recall and average_precision score; "
        "default: the later label in sort order (1 of 0/1, True), the class roc_auc treats as positive",
    )

    @property
    def metrics(self) -> list[str]:
        return [self.metric] if isinstance(self.metric, str) else list(self.metric)

    @property
    def directions(self) -> list[str]:
        if self.direction is None:
            return [natural_direction(m) for m in self.metrics]
        return [self.direction] if isinstance(self.direction, str) else list(self.direction)

    @model_validator(mode="after")
    def _check(self) -> ObjectiveSpec:
        metrics = self.metrics
        if not metrics:
            raise field_error("metric", "metric list is empty")
        for metric in metrics:
            if metric not in METRICS:
                raise field_error(
                    "metric", f"unknown metric '{metric}' (known: {', '.join(sorted(METRICS))})"
                )
        if len(set(metrics)) != len(metrics):
            raise field_error("metric", "metric list repeats a metric")
        directions = self.directions
        if len(directions) != len(metrics):
            raise field_error(
                "direction", f"{len(metrics)} metrics but {len(directions)} directions"
            )
        for metric, direction in zip(metrics, directions):
            if direction != natural_direction(metric):
                better = "higher" if natural_direction(metric) == "maximize" else "lower"
                raise field_error(
                    "direction", f"{direction} for '{metric}', which is better when {better}"
                )
        for name in [self.select.best, *self.select.where]:
            if name is not None and name not in metrics:
                raise field_error(
                    "select",
                    f"'{name}' is not one of the objective's metrics ({', '.join(metrics)})",
                )
        for name, bound in self.select.where.items():
            if bound.min is None and bound.max is None:
                raise field_error(f"select.where.{name}", "give min, max or both")
        return self


class ValidationSpec(_Strict):
    strategy: Literal["kfold", "stratified_kfold", "holdout", "time_series"] | None = None
    folds: int = Field(5, ge=2, le=50)
    val_size: float = Field(0.2, gt=0, lt=1, description="validation fraction for holdout")


class PrunerSpec(_Strict):
    """Multi-fidelity early stopping. ``pruner: hyperband`` (a name alone) is the short form.

    Resources are counted in the family's steps: epochs (PyTorch), boosting iterations (gradient
    boosting), trees (forests). Unset resources come from the family and the space, so every worker
    process builds the same pruner (kubetune.components.search.pruners.resolve_pruner).
    """

    kind: Literal["none", "median", "successive_halving", "hyperband"] = "none"
    n_startup_trials: int = Field(
        5, ge=0, description="median: trials that finish before any is pruned"
    )
    n_warmup_steps: int | None = Field(
        None,
        ge=0,
        description="median: steps a trial runs before it can be pruned (default: none; a neural "
        "network's first rung, a ninth of its epochs)",
    )
    interval_steps: int = Field(1, ge=1, description="median: check every this many steps")
    min_resource: int | None = Field(
        None,
        ge=1,
        description="successive_halving/hyperband: the first rung, in steps (default: one step; "
        "a ninth of a neural network's epochs)",
    )
    max_resource: int | None = Field(
        None, ge=1, description="hyperband: the most steps a trial can run"
    )
    reduction_factor: int | None = Field(
        None,
        ge=2,
        le=20,
        description="successive_halving/hyperband: 1 in this many goes on (default 5; 3 for a "
        "neural network)",
    )
    bootstrap_count: int = Field(
        0, ge=0, description="successive_halving: trials a rung needs before promoting"
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_resources(self) -> PrunerSpec:
        if self.min_resource and self.max_resource and self.min_resource >= self.max_resource:
            raise field_error(
                "max_resource", f"must be greater than min_resource ({self.min_resource})"
            )
        return self


class PBTSpec(_Strict):
    """Population-based training (``search.strategy: pbt``): members train in parallel and, every
    ``interval`` epochs, the worst ``quantile`` copy a better member's weights and perturb its settings."""

    population: int = Field(8, ge=2, le=256)
    generations: int = Field(
        5, ge=1, le=1000, description="exploit/explore rounds; each trains `interval` epochs"
    )
    interval: int = Field(4, ge=1, le=10_000, description="epochs between exploit/explore rounds")
    quantile: float = Field(
        0.25, gt=0, le=0.5, description="bottom fraction that copies the top fraction"
    )
    perturb: list[float] = Field(
        default_factory=lambda: [0.8, 1.2], min_length=1, description="factors for numbers"
    )
    resample_probability: float = Field(
        0.25, ge=0, le=1, description="chance a setting is drawn anew instead"
    )
    keep_checkpoints: Literal["all", "last"] = Field(
        "all",
        description="all: every round's checkpoint stays (the lineage can be inspected); last: a generation's "
        "checkpoints are deleted once the next one has trained from them (disk: population, not population x generations)",
    )


class SearchSpec(_Strict):
    strategy: Literal["sample", "pbt"] = "sample"
    sampler: Literal["auto", "grid", "random", "tpe", "gp", "cmaes", "nsga2", "nsga3", "qmc"] = (
        "auto"
    )
    pruner: PrunerSpec = Field(default_factory=PrunerSpec)
    pbt: PBTSpec = Field(default_factory=PBTSpec)
    # strict: YAML's `true` is not one trial
    n_trials: int = Field(30, ge=1, le=100_000, strict=True)
    parallelism: int = Field(1, ge=1, le=1024, strict=True)
    timeout: float | None = Field(None, gt=0, description="seconds; no new trial starts after it")
    trial_timeout: float | None = Field(None, gt=0, description="seconds one trial may run")
    max_retries: int = Field(
        2, ge=0, le=20, strict=True, description="re-runs of a trial lost to its worker dying"
    )
    seed: int | None = Field(
        42,
        ge=0,
        le=2**32 - 1,
        strict=True,
        description="NumPy's and Optuna's samplers take 0 to 2**32 - 1",
    )


MLFLOW_URI_SCHEMES = (
    "http",
    "https",
    "file",
    "sqlite",
    "postgresql",
    "mysql",
    "mssql",
    "databricks",
)


class TrackingSpec(_Strict):
    mlflow_uri: str | None = Field(None, max_length=2048)
    # MLflow's column holds 500 characters
    experiment: str | None = Field(None, min_length=1, max_length=500)
    registered_model: str | None = Field(None, min_length=1, max_length=256)

    @field_validator("mlflow_uri")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        """A tracking URI MLflow cannot use fails at the first run otherwise, after the study began."""
        if value is None or "://" not in value:
            return value  # a local path: MLflow's file store
        scheme = value.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme not in MLFLOW_URI_SCHEMES:
            raise ValueError(
                f"scheme '{scheme}' is not one MLflow tracks to (use one of {', '.join(MLFLOW_URI_SCHEMES)}, or a path)"
            )
        return value


class StorageSpec(_Strict):
    url: str | None = None
    heartbeat_interval: int = Field(
        10, ge=1, le=3600, description="seconds between a trial's heartbeats"
    )
    grace_period: int | None = Field(
        None, ge=1, description="seconds without one before a trial is failed"
    )


class ArtifactsSpec(_Strict):
    """Where prepared data (and checkpoints, models) go: a local folder or s3://bucket/prefix."""

    uri: str | None = None

    @field_validator("uri")
    @classmethod
    def _check_uri(cls, value: str | None) -> str | None:
        if value is not None and "://" in value and not value.startswith("s3://"):
            raise ValueError(f"'{value}' is neither s3://bucket/prefix nor a local folder")
        return value


class SecretRef(_Strict):
    """An environment variable filled from a Kubernetes Secret: credentials never appear in a manifest."""

    name: str
    key: str


def _default_resources() -> dict[str, dict[str, str | int | float]]:
    return {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}}


class KubernetesSpec(_Strict):
    """How trials run as Jobs. Field names follow the Kubernetes API so they can be copied across."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    namespace: str = "default"
    image: str = "kubetune-trial:0.1.0"
    imagePullPolicy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    resources: dict[str, dict[str, str | int | float]] = Field(
        default_factory=lambda: _default_resources()
    )
    nodeSelector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    affinity: dict[str, Any] | None = None
    priorityClassName: str | None = None
    serviceAccountName: str = "kubetune-trial"
    imagePullSecrets: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(
        default_factory=dict, description="plain settings, never credentials"
    )
    secretEnv: dict[str, SecretRef] = Field(
        default_factory=lambda: {
            "KUBETUNE_STORAGE_URL": SecretRef(name="kubetune-study-db", key="url")
        }
    )
    ttlSecondsAfterFinished: int = Field(600, ge=0)
    unschedulableTimeout: float = Field(
        300, gt=0, description="seconds a pod may stay unschedulable"
    )
    startTimeout: float = Field(
        1800,
        gt=0,
        description="seconds a scheduled pod may take to start its container (image pull, volume mounts)",
    )

    @field_validator("resources")
    @classmethod
    def _check_resources(
        cls, value: dict[str, dict[str, str | int | float]]
    ) -> dict[str, dict[str, str | int | float]]:
        unknown = set(value) - {"requests", "limits"}
        if unknown:
            raise ValueError(f"resources takes requests and limits, not {sorted(unknown)[0]}")
        # YAML reads `cpu: 1.5` as a float; a Quantity is a string or an integer, so it is kept as "1.5"
        value = {
            kind: {
                name: str(amount) if isinstance(amount, float) else amount
                for name, amount in amounts.items()
            }
            for kind, amounts in value.items()
        }
        _raise_on(k8s.resources_problem(value))
        return value

    @field_validator("env")
    @classmethod
    def _no_credentials_in_env(cls, value: dict[str, str]) -> dict[str, str]:
        for name, setting in value.items():
            _raise_on(_named(name, k8s.env_name_problem(name)))
            if (
                any(word in name.upper() for word in ("PASSWORD", "SECRET", "TOKEN", "ACCESS_KEY"))
                or "@" in setting
            ):
                raise ValueError(
                    f"'{name}' looks like a credential; pass it with secretEnv (a secretKeyRef)"
                )
        return value

    @field_validator("secretEnv")
    @classmethod
    def _check_secret_env(cls, value: dict[str, SecretRef]) -> dict[str, SecretRef]:
        for name, ref in value.items():
            _raise_on(_named(name, k8s.env_name_problem(name)))
            problem = k8s.secret_ref_problem(ref.name, ref.key)
            if problem:
                _raise_on((f"{name}.{problem[0]}", problem[1]))
        return value

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        _raise_on(_named("", k8s.dns_label_problem(value)))
        return value

    @field_validator("serviceAccountName", "priorityClassName")
    @classmethod
    def _check_object_name(cls, value: str | None) -> str | None:
        if value is not None:
            _raise_on(_named("", k8s.dns_subdomain_problem(value)))
        return value

    @field_validator("imagePullSecrets")
    @classmethod
    def _check_pull_secrets(cls, value: list[str]) -> list[str]:
        for index, name in enumerate(value):
            _raise_on(_named(str(index), k8s.dns_subdomain_problem(name)))
        return value

    @field_validator("image")
    @classmethod
    def _check_image(cls, value: str) -> str:
        if not value.strip() or any(character.isspace() for character in value):
            raise ValueError(f"{value!r} is not an image reference (registry/name:tag, no spaces)")
        return value

    @field_validator("nodeSelector")
    @classmethod
    def _check_node_selector(cls, value: dict[str, str]) -> dict[str, str]:
        _raise_on(k8s.node_selector_problem(value))
        return value

    @field_validator("tolerations")
    @classmethod
    def _check_tolerations(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        _raise_on(k8s.tolerations_problem(value))
        return value

    @field_validator("affinity")
    @classmethod
    def _check_affinity(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            _raise_on(k8s.model_problem(value, "V1Affinity"))
        return value


def _named(sub_path: str, message: str | None) -> tuple[str, str] | None:
    return None if message is None else (sub_path, message)


def _raise_on(problem: tuple[str, str] | None) -> None:
    """A Kubernetes setting's problem as the one-line spec error, naming the sub-field when there is one."""
    if problem is not None:
        sub_path, message = problem
        raise field_error(sub_path, message) if sub_path else ValueError(message)


class WarmStartSpec(_Strict):
    """Which past studies seed this one. ``warm_start: auto`` (a mode alone) is the short form."""

    mode: Literal["none", "same_pipeline", "similar_datasets", "auto"] = "auto"
    pipeline: str | None = Field(
        None,
        description="what counts as the same pipeline; default: model family + data source + target + metric",
    )
    k_nearest: int = Field(3, ge=1, le=50, description="similar past studies to draw from")
    top_k: int = Field(
        3,
        ge=1,
        le=10,
        description="candidates from each similar study; the portfolio order picks among them",
    )
    pipeline_top_k: int = Field(
        5, ge=1, le=10, description="configurations taken from the pipeline's last study"
    )
    max_trials: int | None = Field(
        None, ge=1, description="warm-start trials at most; default: half the budget, up to 10"
    )
    narrow_space: bool = Field(
        False,
        description="also search only the box holding every past study's best configuration (numeric parameters; "
        "Perrone et al. 2019); off by default: measured on k-NN only (docs/benchmarks.md)",
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"mode": value} if isinstance(value, str) else value


class AnalysisSpec(_Strict):
    """What the study's end says about its result. ``analysis: none`` turns the extra fits off.

    The top ``finalists`` configurations and the family's defaults are re-scored on ``repeats`` more
    runs of the study's folds (other seeds) and compared with the corrected resampled t-test; the refit
    takes the winner by ``select``; the held-out score gets a bootstrap interval, beside the defaults'.
    ``repeats: auto`` keeps the stage's fits within a share of the search's
    (kubetune.components.analysis.repeats_for).
    """

    enabled: bool = True
    finalists: int = Field(
        5, ge=2, le=20, description="best configurations re-scored on repeated cross-validation"
    )
    repeats: int | Literal["auto"] = Field(
        "auto",
        description="more runs of the study's folds, each with another seed; auto: 1-3, as many as "
        "keep the stage within a quarter of the search's fits",
    )
    select: Literal["best_mean", "one_standard_error"] = Field(
        "best_mean",
        description="best_mean: the finalist with the best repeated-CV mean; one_standard_error: the "
        "cheapest to fit within one standard error of it",
    )
    baseline: bool = Field(
        True, description="also score the family's default configuration, on CV and held-out"
    )
    bootstrap_resamples: int = Field(1000, ge=100, le=100_000)

    @field_validator("repeats", mode="before")
    @classmethod
    def _check_repeats(cls, value: Any) -> int | str:
        if value == "auto" or (
            isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10
        ):
            return value
        raise ValueError(f"must be 1 to 10 or auto, got {_SHORT.repr(value)}")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if value == "none" or value is False:
            return {"enabled": False}
        if value == "auto" or value is True:
            return {}
        return value


MAX_PACKED_TRIALS = 256


class PackingSpec(_Strict):
    """Several trials on one worker (a local worker, or one trial pod with its one GPU).

    ``processes``: K trial processes share the worker's GPU and cores, any family. ``fused``: K
    configurations of a PyTorch MLP that share its structure train as one batched model
    (kubetune.components.models.torch_fused). ``auto``: fused where the family can, else processes.
    ``trials: auto`` sizes K from the first trial's measured peak memory and the device's memory.
    """

    trials: int | str = Field(1, description="trials one worker runs at once, or auto")
    mode: Literal["processes", "fused", "auto"] = "auto"

    @field_validator("trials", mode="before")
    @classmethod
    def _check_trials(cls, value: Any) -> int | str:
        if value == "auto" or (
            isinstance(value, int)
            and not isinstance(value, bool)
            and 1 <= value <= MAX_PACKED_TRIALS
        ):
            return value
        raise ValueError(f"must be 1 to {MAX_PACKED_TRIALS} or auto, got {_SHORT.repr(value)}")

    @property
    def packs(self) -> bool:
        return self.trials != 1


class ExecutorSpec(_Strict):
    kind: Literal["local", "kubernetes"] = "local"
    kubernetes: KubernetesSpec = Field(default_factory=KubernetesSpec)
    packing: PackingSpec = Field(default_factory=PackingSpec)

    @model_validator(mode="before")
    @classmethod
    def _short_packing(cls, value: Any) -> Any:
        """``packing: 8`` is ``packing: {trials: 8}``."""
        if isinstance(value, dict) and isinstance(value.get("packing"), (int, str)):
            value = {**value, "packing": {"trials": value["packing"]}}
        return value


class TuneSpec(_Strict):
    study: str | None = None
    data: DataSpec
    model: ModelSpec
    objective: ObjectiveSpec
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    search: SearchSpec = Field(default_factory=SearchSpec)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    storage: StorageSpec = Field(default_factory=StorageSpec)
    artifacts: ArtifactsSpec = Field(default_factory=ArtifactsSpec)
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    warm_start: WarmStartSpec = Field(default_factory=WarmStartSpec)
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)

    @field_validator("study")
    @classmethod
    def _check_study(cls, value: str | None) -> str | None:
        problem = None if value is None else study_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _check_cross_fields(self) -> TuneSpec:
        if self.validation.strategy == "stratified_kfold" and self.data.task == "regression":
            raise field_error("validation.strategy", "stratified_kfold needs a classification task")
        several = len(self.objective.metrics) > 1
        if several and self.search.pruner.kind != "none":
            raise field_error(
                "search.pruner",
                "pruning needs a single objective (Optuna prunes on one intermediate value)",
            )
        if self.search.strategy == "pbt":
            if several:
                raise field_error("search.strategy", "pbt optimizes a single objective")
            if not supports_checkpoints(self.model.family):
                raise field_error(
                    "search.strategy",
                    f"pbt needs a PyTorch family that checkpoints; '{self.model.family}' does not",
                )
            if self.search.pruner.kind != "none":
                raise field_error(
                    "search.pruner", "pbt decides itself which members stop; leave the pruner out"
                )
            if self.warm_start.narrow_space:
                raise field_error(
                    "warm_start.narrow_space",
                    "pbt members explore the whole space; narrow_space is for sampled studies",
                )
        self._check_packing()
        return self

    def _check_packing(self) -> None:
        packing = self.executor.packing
        if not packing.packs:
            return
        if self.search.strategy == "pbt":
            raise field_error(
                "executor.packing",
                "pbt trains its population member by member; leave packing out",
            )
        if packing.mode == "fused" and not supports_fusion(self.model.family):
            raise field_error(
                "executor.packing.mode",
                f"fused trains PyTorch MLPs (torch_mlp, torch_nas) as one batched model; "
                f"'{self.model.family}' cannot train fused (use processes)",
            )

    @property
    def study_name(self) -> str:
        return self.study or _default_study_name(self)

    @property
    def trials_at_once(self) -> int:
        """Trials in flight at full capacity: workers x packed trials (``trials: auto`` counts 2, the
        least it packs once sized; samplers only ask whether this exceeds one)."""
        packing = self.executor.packing.trials
        return self.search.parallelism * (packing if isinstance(packing, int) else 2)

    @property
    def pipeline(self) -> str:
        """The identity a scheduled re-run shares with its previous runs (for same-pipeline warm starts)."""
        if self.warm_start.pipeline:
            return self.warm_start.pipeline
        return self.pipeline_of(self.data.source)

    def pipeline_of(self, origin: str) -> str:
        """A pipeline identity: the model family, ``origin`` (the data source, or a retrain's base study),
        the target and the metrics."""
        return f"{self.model.family}|{origin}|{self.data.target}|{','.join(self.objective.metrics)}"


def _default_study_name(spec: TuneSpec) -> str:
    source = spec.data.source.split(":", 1)[-1].rsplit("/", 1)[-1].split(".", 1)[0]
    return (
        re.sub(r"[^A-Za-z0-9._-]", "-", f"{source}-{spec.model.family}")[:63].strip("-") or "study"
    )


def format_validation_error(error: ValidationError) -> str:
    """Pydantic's multi-line report -> one line naming the first bad field."""
    first = error.errors()[0]
    parts = [str(part) for part in first["loc"]]
    message = first["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message.startswith(_AT):
        sub_path, _, message = message.removeprefix(_AT).partition("|")
        parts.append(sub_path)
    location = ".".join(parts)
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "missing":
        message = "is required"
    elif first["type"] == "literal_error":
        message = f"{message}, got {_SHORT.repr(first.get('input'))}"
    line = f"{location}: {message}" if location else message
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


MAX_ERROR_CHARS = 300  # an error is one line a terminal shows whole, whatever the input held
_SHORT = reprlib.Repr()  # keyword arguments to Repr() came in Python 3.12
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxlevel = 60, 60, 6, 6, 2
MAX_SPEC_NODES = 100_000


def _count_nodes(raw: Any) -> None:
    """Refuse a spec whose values expand beyond any real spec (a YAML alias bomb stays small on disk and
    in memory -- aliases share objects -- but validating or echoing it walks every expansion)."""
    budget = MAX_SPEC_NODES
    stack = [raw]
    while stack:
        node = stack.pop()
        budget -= 1
        if budget < 0:
            raise SpecError(
                f"spec: more than {MAX_SPEC_NODES:,} values (YAML aliases expanding?); a spec is a short file"
            )
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def parse_spec(raw: dict[str, Any]) -> TuneSpec:
    """Validate a spec mapping; every problem becomes a SpecError naming the field."""
    if not isinstance(raw, dict):
        raise SpecError("spec: the file must hold a mapping (data:, model:, objective:, ...)")
    _count_nodes(raw)
    try:
        return TuneSpec.model_validate(raw)
    except ValidationError as error:
        raise SpecError(format_validation_error(error)) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; in a spec that silently switches the dataset (a second
    ``data:`` block), so a repeated key is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise SpecError(
                    f"spec: key {_SHORT.repr(key)} appears twice (line {key_node.start_mark.line + 1}); keep one"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


MAX_SPEC_BYTES = 1_000_000


def read_spec_text(path: Path) -> str:
    """The spec file as text, or a one-line error saying why it is not UTF-8 YAML text."""
    with path.open("rb") as handle:
        data = handle.read(MAX_SPEC_BYTES + 1)  # never more than the limit into memory
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(
            f"spec: '{path}' is larger than {MAX_SPEC_BYTES:,} bytes; a spec is a short YAML file"
        )
    if data[:2] == b"\x1f\x8b":
        raise SpecError(f"spec: '{path}' is gzip-compressed; decompress it first")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        hint = (
            " (it looks like UTF-16: save it as UTF-8)"
            if data[:2] in (b"\xff\xfe", b"\xfe\xff")
            else ""
        )
        raise SpecError(
            f"spec: '{path}' is not UTF-8 text: byte 0x{data[error.start]:02x} at position {error.start}{hint}"
        ) from None


def load_spec(path: str | Path, overrides: dict[str, Any] | None = None) -> TuneSpec:
    """Read a YAML spec and apply CLI overrides given as dotted keys (``search.n_trials``)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec: no such file '{path}'")
    text = read_spec_text(path)
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"spec: '{path}' is not valid YAML{where}") from None
    except RecursionError:
        raise SpecError(f"spec: '{path}' is nested too deeply to be a spec") from None
    return parse_spec(apply_overrides(raw, overrides or {}))


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``raw`` with dotted-key overrides set; None values are skipped. The copy keeps the
    keys' order: a conditional parameter must come after the one its ``when`` names."""
    result = copy.deepcopy(raw) if raw else {}
    if not isinstance(result, dict):
        return result
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = result
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise SpecError(f"{dotted}: cannot override inside a non-mapping value")
        node[leaf] = value
    return result
