"""Warm starts: choose past configurations to run first, and project them into the current space.

Pure planning over records read from the meta-store (``kubetune.components.warmstart.metastore``):

* ``same_pipeline`` -- the same pipeline run again (scheduled retraining on fresh data): the most recent
  past study of that pipeline, its top-k configurations.
* ``similar_datasets`` -- the k past studies of the same model family and task whose datasets are
  nearest by standardized meta-feature distance, each one's top configurations.
* ``auto`` -- same pipeline when it has history, topped up from similar datasets; cold otherwise.

Every chosen configuration is projected into the current search space (parameters the space lacks are
dropped, numbers clipped to bounds and snapped to steps, unknown categories skipped, inactive
conditional parameters dropped), deduplicated, and enqueued as the study's first trials with the run it
came from, so its provenance reaches the trial's MLflow run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kubetune.components.core import in_distribution
from kubetune.components.data import LOG_SCALED
from kubetune.components.search import Space, distribution, project
from kubetune.components.warmstart.box import (
    MIN_STUDIES,
    describe_ranges,
    narrowed_ranges,
    past_optima_box,
)
from kubetune.components.warmstart.portfolio import ScoredTrials, portfolio, quantiles, spread_out


@dataclass(frozen=True)
class PastConfig:
    params: dict[str, str]  # as MLflow stores them: strings
    score: float
    run_id: str  # the past trial's MLflow run


@dataclass(frozen=True)
class StudyProfile:
    """What a warm start compares: the study, its pipeline, model, task, objective and dataset."""

    study: str
    pipeline: str
    family: str
    task: str
    metric: str
    direction: str
    meta: dict[str, float]  # meta-features (kubetune.components.data.metafeatures)


CurrentStudy = StudyProfile  # the study being started: a profile and nothing more


@dataclass(frozen=True)
class PastStudy(StudyProfile):
    run_id: str  # the past study's parent run
    end_time: int
    configs: list[PastConfig]  # best first

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "configs": [c.__dict__ for c in self.configs]}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PastStudy:
        return cls(**{**raw, "configs": [PastConfig(**c) for c in raw["configs"]]})


@dataclass(frozen=True)
class WarmConfig:
    params: dict[str, Any]
    source_run_id: str
    source_study: str
    kind: str  # same_pipeline or similar_datasets
    past_score: float
    past_direction: str


@dataclass
class WarmStartPlan:
    mode: str  # what was asked
    used: str  # what happened: none, cold, same_pipeline, similar_datasets, or both joined by "+"
    configs: list[WarmConfig] = field(default_factory=list)
    # similar studies and their distances
    neighbours: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    # every projected config of the chosen studies
    prior: list[WarmConfig] = field(default_factory=list)
    # warm_start.narrow_space: the box of past optima (kubetune.components.warmstart.box)
    narrowed: Space | None = None
    # what the box changed, per parameter
    box: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "used": self.used,
            "message": self.message,
            "neighbours": self.neighbours,
            "configs": [c.__dict__ for c in self.configs],
            "narrowed_space": self.box,
        }


# -- distance -------------------------------------------------------------------------------------------


def _scaled(meta: dict[str, float]) -> dict[str, float]:
    return {k: math.log1p(max(v, 0.0)) if k in LOG_SCALED else v for k, v in meta.items()}


def meta_distances(current: dict[str, float], past: list[dict[str, float]]) -> list[float]:
    """Euclidean distance after z-scoring each meta-feature over the studies that have it (current included).

    Each past study is compared with the current one on the features both have. Some features cannot
    exist for some datasets (feature skewness without a numeric column, class entropy for a
    regression): such a study drops that feature from its own comparison only, not from every other
    study's. Constant features carry no information and drop out; the distance is
    divided by the square root of the features a pair shares, so pairs compared on fewer features read
    on the same scale. A pair that shares no informative feature gets the distance expected between two
    studies drawn at random (sqrt(2): the difference of two z-scores has variance 2).
    """
    if not past:
        return []
    pool = [_scaled(current)] + [_scaled(m) for m in past]
    names = sorted(pool[0])  # a feature the current study lacks cannot tell its neighbours apart
    matrix = np.array([[m.get(n, np.nan) for n in names] for m in pool], dtype=float).reshape(
        len(pool), len(names)
    )
    std = np.nanstd(matrix, axis=0)
    keep = std > 1e-12
    if not keep.any():
        return [0.0] * len(past)
    z = (matrix[:, keep] - np.nanmean(matrix[:, keep], axis=0)) / std[keep]
    distances = []
    for row in z[1:]:
        shared = ~np.isnan(row)
        distances.append(
            float(np.linalg.norm(row[shared] - z[0][shared]) / math.sqrt(shared.sum()))
            if shared.any()
            else math.sqrt(2.0)
        )
    return distances


# -- projection -----------------------------------------------------------------------------------------


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


# -- planning -------------------------------------------------------------------------------------------


def plan_warm_start(
    mode: str,
    current: CurrentStudy,
    space: Space,
    history: list[PastStudy],
    *,
    k_nearest: int = 3,
    top_k: int = 3,
    pipeline_top_k: int = 5,
    max_configs: int = 10,
    narrow_space: bool = False,
) -> WarmStartPlan:
    """Which past configurations the study runs first, and why.

    Same pipeline: the previous study's best configurations, near-duplicates skipped. Similar datasets:
    the ``top_k`` best of each of the ``k_nearest`` studies are candidates, and a greedy portfolio
    (kubetune.components.warmstart.portfolio) orders them by how well each is estimated to do across all the
    neighbours, weighted by closeness; candidates that add too little are left to the sampler.
    ``narrow_space``: the space is also cut to the box of every usable past study's best configuration
    and the chosen ones (kubetune.components.warmstart.box); ``plan.narrowed`` is None where nothing was cut.
    """
    if mode == "none":
        return WarmStartPlan(mode, "none", message="warm start off (warm_start: none)")
    usable = [
        p
        for p in history
        if p.study != current.study
        and p.family == current.family
        and p.task == current.task
        and p.configs
    ]
    plan = WarmStartPlan(mode, "cold")
    chosen: dict[str, WarmConfig] = {}
    if mode in ("same_pipeline", "auto"):
        same = [p for p in usable if p.pipeline == current.pipeline]
        if same:
            latest = max(same, key=lambda p: p.end_time)
            ranked = _projected(latest, "same_pipeline", space, plan.prior)
            for warm in spread_out(
                ranked, space, min(pipeline_top_k, max_configs), params_of=_params
            ):
                chosen[_key(warm.params)] = warm
    if mode in ("similar_datasets", "auto") and len(chosen) < max_configs:
        others = [p for p in usable if p.pipeline != current.pipeline or mode == "similar_datasets"]
        distances = meta_distances(current.meta, [p.meta for p in others])
        ranked_studies = sorted(
            zip(distances, others), key=lambda pair: (pair[0], -pair[1].end_time)
        )[:k_nearest]
        plan.neighbours = [
            {"study": p.study, "run_id": p.run_id, "distance": round(d, 4)}
            for d, p in ranked_studies
        ]
        candidates: dict[str, WarmConfig] = {}
        scored: list[ScoredTrials] = []
        for distance, past in ranked_studies:
            projected = _projected(past, "similar_datasets", space, plan.prior)
            if not projected:
                continue
            scored.append(
                ScoredTrials(
                    [w.params for w in projected],
                    quantiles([w.past_score for w in projected], past.direction),
                    _closeness(distance),
                )
            )
            for warm in projected[:top_k]:
                if _key(warm.params) not in chosen:
                    candidates.setdefault(_key(warm.params), warm)
        for warm in portfolio(
            list(candidates.values()), scored, space, max_configs - len(chosen), params_of=_params
        ):
            chosen[_key(warm.params)] = warm
    plan.configs = list(chosen.values())
    kinds = sorted({c.kind for c in plan.configs}, key=["same_pipeline", "similar_datasets"].index)
    plan.used = "+".join(kinds) if kinds else "cold"
    if not plan.configs:
        plan.message = _cold_start_message(mode, current, usable)
    else:
        sources = sorted({c.source_study for c in plan.configs})
        plan.message = f"warm start ({plan.used}): {len(plan.configs)} configuration(s) from {', '.join(sources)}"
    if narrow_space:
        _narrow(plan, space, usable)
    return plan


def _cold_start_message(mode: str, current: CurrentStudy, usable: list[PastStudy]) -> str:
    """Why nothing was warm-started, naming what the mode looked for: with ``same_pipeline`` the other
    pipelines' studies are not candidates, so "none fits this search space" would send a user looking
    for a space problem that is not there."""
    if not usable:
        return f"no past study of a {current.task} {current.family} model in the meta-store; cold start"
    if mode == "same_pipeline" and not any(p.pipeline == current.pipeline for p in usable):
        return (
            f"no past study of this pipeline ({current.pipeline}) in the meta-store ({len(usable)} of other pipelines: "
            "warm_start: similar_datasets or auto would use them); cold start"
        )
    return "past studies found, but none of their configurations fits this search space; cold start"


def _narrow(plan: WarmStartPlan, space: Space, usable: list[PastStudy]) -> None:
    """Cut the space to the box of past optima; say so in the plan's message either way."""
    optima = [best for best in (_best_projected(p, space) for p in usable) if best]
    narrowed = past_optima_box(space, optima, [c.params for c in plan.configs])
    plan.box = narrowed_ranges(space, narrowed)
    if plan.box:
        plan.narrowed = narrowed
        plan.message += f"; search space narrowed to the box of {len(optima)} past optima: {describe_ranges(plan.box)}"
    else:
        plan.message += f"; search space kept whole ({len(optima)} past optima, at least {MIN_STUDIES} needed per parameter)"


def _best_projected(past: PastStudy, space: Space) -> dict[str, Any]:
    """``past``'s best configuration that fits the space at all, projected into it."""
    return next(
        (params for params in (project(c.params, space) for c in past.configs) if params), {}
    )


def _params(warm: WarmConfig) -> dict[str, Any]:
    return warm.params


def _closeness(distance: float) -> float:
    """A neighbour's weight in the portfolio: nearer datasets count more, none counts for nothing."""
    return 1.0 / (0.1 + distance)


def _projected(
    past: PastStudy, kind: str, space: Space, prior: list[WarmConfig]
) -> list[WarmConfig]:
    """``past``'s configurations (best first) that fit the current space, each once; all kept as prior."""
    seen: set[str] = set()
    projected = []
    for config in past.configs:
        params = project(config.params, space)
        if not params or _key(params) in seen:
            continue
        seen.add(_key(params))
        warm = WarmConfig(params, config.run_id, past.study, kind, config.score, past.direction)
        projected.append(warm)
        prior.append(warm)
    return projected


# the warm-start distribution is fitted on the best 10% of the source trials
CMAES_MIN_SOURCE_TRIALS = 10


def cmaes_source_trials(plan: WarmStartPlan, space: Space, direction: str) -> list[Any]:
    """Past configurations as finished trials for CMA-ES's warm start (Nomura et al., AAAI 2021).

    CMA-ES needs every parameter numeric and present, scores in this study's direction, and at least
    ten source trials; otherwise the enqueued trials alone carry the warm start.
    """
    import optuna

    if any(p.type == "categorical" or p.when for p in space.values()):
        return []
    distributions = {name: distribution(param) for name, param in space.items()}
    trials = []
    for config in plan.prior:
        if set(config.params) != set(space) or config.past_direction != direction:
            continue
        if not all(in_distribution(distributions[n], v) for n, v in config.params.items()):
            continue  # outside a narrowed space (warm_start.narrow_space)
        trials.append(
            optuna.trial.create_trial(
                params=config.params, distributions=distributions, value=config.past_score
            )
        )
    return trials if len(trials) >= CMAES_MIN_SOURCE_TRIALS else []
