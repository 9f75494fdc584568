"""Finalists: the study's best configurations and the family's defaults, re-scored on the same repeated
splits, and the rule that picks the one to refit.

A study's best trial is the maximum of many noisy estimates, so it is biased upwards, and the runner-up
is often as good. Re-scoring the top k on fresh splits (other seeds) and comparing them on those paired
scores is what tells a real difference from the luck of the search.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from kubetune.components.analysis.statistics import (
    Comparison,
    corrected_resampled_ttest,
    standard_error,
)

SelectionRule = Literal["best_mean", "one_standard_error"]
DEFAULT_LABEL = "default"

# ``repeats: auto``: the finalists' fits stay within this share of the search's (a 30-trial study re-scores
# its six configurations once, a 100-trial study three times); with more repeats the tests gain power
# but the stage would cost a short study more than half of its search again
AUTO_REPEATS_SHARE = 0.25
AUTO_REPEATS_MAX = 3


def repeats_for(
    requested: int | Literal["auto"],
    trials_in_study: int,
    configurations: int,
    scores_per_repeat: int,
) -> int:
    """The repeated cross-validation runs the finalists get: as asked, or for ``auto`` as many (up to
    AUTO_REPEATS_MAX) as keep ``configurations`` x repeats within AUTO_REPEATS_SHARE of the study's trials
    (each finalist's run costs what one trial of the search did) -- but never fewer than give each
    finalist the two scores a paired test needs (a holdout split scores once a run: two runs)."""
    if requested != "auto":
        return requested
    fewest = math.ceil(2 / max(scores_per_repeat, 1))
    affordable = math.floor(AUTO_REPEATS_SHARE * trials_in_study / max(configurations, 1))
    return max(fewest, min(AUTO_REPEATS_MAX, affordable))


@dataclass(frozen=True)
class Finalist:
    label: str  # "trial 12", or "default" for the family's default configuration
    params: dict[str, Any]
    trial_number: int | None = None  # the study trial it came from; None for the defaults
    search_score: float | None = None  # what the search measured (the biased estimate)


@dataclass
class FinalistScores:
    finalist: Finalist
    scores: list[float] = field(
        default_factory=list
    )  # first metric, repeat by repeat, fold by fold
    fit_seconds: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and len(self.scores) > 0

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def standard_error(self) -> float:
        return standard_error(self.scores)


def pick_finalists(
    trials: Sequence[Any], k: int, maximize: bool, default_params: dict[str, Any] | None
) -> list[Finalist]:
    """The ``k`` best finished trials with distinct configurations (Optuna FrozenTrials or alike), best
    first, then the family's defaults unless one of them already is the defaults."""
    finished = [t for t in trials if t.state.name == "COMPLETE" and t.values]
    finished.sort(key=lambda t: t.values[0], reverse=maximize)
    chosen: list[Finalist] = []
    seen: set[str] = set()
    for trial in finished:
        key = _config_key(trial.params)
        if key in seen:
            continue
        seen.add(key)
        chosen.append(
            Finalist(f"trial {trial.number}", dict(trial.params), trial.number, trial.values[0])
        )
        if len(chosen) == k:
            break
    if default_params is not None and _config_key(default_params) not in seen:
        chosen.append(Finalist(DEFAULT_LABEL, dict(default_params)))
    return chosen


@dataclass(frozen=True)
class Selection:
    winner: FinalistScores
    runner_up: FinalistScores | None
    reason: str


def select_winner(
    scored: Sequence[FinalistScores], rule: SelectionRule, maximize: bool
) -> Selection | None:
    """The configuration to refit among the tuned finalists (the defaults are the baseline, never picked).

    ``best_mean``: the highest repeated-CV mean. ``one_standard_error``: the cheapest to fit among those
    within one standard error of the best mean (Breiman's rule; the cheapest is the least likely to have
    won by fitting the noise of the splits, and the quickest to retrain)."""
    tuned = [s for s in scored if s.ok and s.finalist.label != DEFAULT_LABEL]
    if not tuned:
        return None
    ranked = sorted(tuned, key=lambda s: s.mean, reverse=maximize)
    best = ranked[0]
    if rule == "best_mean" or len(ranked) == 1:
        winner = best
        reason = (
            f"best_mean: {best.finalist.label} has the best mean over {len(best.scores)} "
            f"repeated-CV scores ({best.mean:.4f})"
        )
    else:
        bound = best.mean - best.standard_error if maximize else best.mean + best.standard_error
        close = [s for s in ranked if (s.mean >= bound if maximize else s.mean <= bound)]
        winner = min(close, key=lambda s: (s.fit_seconds or math.inf, -_sign(maximize) * s.mean))
        reason = (
            f"one_standard_error: {len(close)} finalist(s) within one standard error of the best "
            f"mean ({best.finalist.label}: {best.mean:.4f} ± {best.standard_error:.4f}); "
            f"{winner.finalist.label} fits fastest ({winner.fit_seconds or 0:.2f} s per fold)"
        )
    runner_up = next((s for s in ranked if s is not winner), None)
    return Selection(winner, runner_up, reason)


def compare(
    a: FinalistScores, b: FinalistScores, split_size_ratio: float, maximize: bool
) -> Comparison | None:
    """A against B on their shared repeated splits; None when either has no usable scores."""
    if not (a.ok and b.ok) or len(a.scores) != len(b.scores):
        return None
    return corrected_resampled_ttest(a.scores, b.scores, split_size_ratio, maximize)


def significance_sentence(winner: str, other: str, comparison: Comparison | None) -> str:
    """What the summary says about one comparison, in words a reader acts on."""
    if comparison is None:
        return f"{winner} vs {other}: not compared (no paired scores)"
    verdict = (
        "significantly better than"
        if comparison.significant() and comparison.mean_difference > 0
        else "significantly worse than"
        if comparison.significant()
        else "not significantly different from"
    )
    return (
        f"{winner} is {verdict} {other} "
        f"(corrected resampled t-test p={comparison.p_value:.3g}, "
        f"mean difference {comparison.mean_difference:+.4f}, effect size {comparison.effect_size:+.2f})"
    )


def _config_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _sign(maximize: bool) -> int:
    return 1 if maximize else -1
