"""The analysis stage: the study's finalists and the family's defaults re-scored on repeated
cross-validation, as trials run (local workers or trial Jobs), each recorded as a run under the
study's; the configuration to refit chosen by the spec's rule; the significance of the choice.

The pure parts (which finalists, which winner, which test) are kubetune.components.analysis; this
module runs the fits and records what they say. The held-out side (the refit's interval and the
defaults' refit) is in refit_step, where the held-out rows are read.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import optuna

from kubetune.components.analysis import (
    DEFAULT_LABEL,
    Comparison,
    Finalist,
    FinalistScores,
    Interval,
    Selection,
    SelectionRule,
    compare,
    holdout_intervals,
    pick_finalists,
    repeats_for,
    scores_per_run,
    select_winner,
    significance_sentence,
    split_size_ratio,
)
from kubetune.components.core import (
    ANALYSIS_SELECTION_TAG,
    ANALYSIS_SIGNIFICANCE_TAG,
    FAILURE_REASON,
    FINALIST_TAG,
    EvaluationTarget,
    TrialRequest,
    TrialResult,
)
from kubetune.components.data import read_frame
from kubetune.components.evaluation import fit_full
from kubetune.components.execution import Executor, failure_reason, open_storage, storage_url
from kubetune.components.models import get_family
from kubetune.components.pipeline.data_preparation import PreparedData
from kubetune.components.pipeline.search_run import make_executor
from kubetune.components.pipeline.search_strategy import SearchOutcome, request_template
from kubetune.components.spec import TuneSpec
from kubetune.components.tracking import Tracker

log = logging.getLogger("kubetune")

WAIT_SECONDS = 5.0
FINALISTS_ARTIFACT = "analysis/finalists.json"  # on the parent run; the study report reads it


@dataclass
class FinalistsOutcome:
    """What the repeated cross-validation found; ``selection`` None when no finalist could be scored."""

    scored: list[FinalistScores]
    selection: Selection | None
    versus_runner_up: Comparison | None
    versus_default: Comparison | None
    sentences: list[str]
    extra_fits: int  # model fits the stage added: finalists x repeats x folds
    seconds: float
    repeat_seeds: list[int] = field(default_factory=list)
    split_size_ratio: float = 0.0  # the correction the tests and the intervals use

    @property
    def default(self) -> FinalistScores | None:
        return next((s for s in self.scored if s.finalist.label == DEFAULT_LABEL), None)

    def as_record(self, metric: str) -> dict[str, Any]:
        """The finalists' table and tests as the study report and the parent run's JSON hold them."""

        def comparison(c: Comparison | None) -> dict[str, float] | None:
            if c is None:
                return None
            return {
                "p_value": c.p_value,
                "effect_size": c.effect_size,
                "mean_difference": c.mean_difference,
                "t_statistic": c.t_statistic,
                "n_scores": c.n_scores,
            }

        winner = self.selection.winner.finalist.label if self.selection else None
        return {
            "metric": metric,
            "repeat_seeds": self.repeat_seeds,
            "split_size_ratio": self.split_size_ratio,
            "finalists": [
                {
                    "label": s.finalist.label,
                    "trial": s.finalist.trial_number,
                    "params": s.finalist.params,
                    "search_score": s.finalist.search_score,
                    "mean": s.mean if s.ok else None,
                    "standard_error": s.standard_error if s.ok else None,
                    "scores": s.scores,
                    "fit_seconds": s.fit_seconds,
                    "error": s.error,
                    "chosen": s.finalist.label == winner,
                }
                for s in self.scored
            ],
            "selection": self.selection.reason if self.selection else None,
            "versus_runner_up": comparison(self.versus_runner_up),
            "runner_up": self.selection.runner_up.finalist.label
            if self.selection and self.selection.runner_up
            else None,
            "versus_default": comparison(self.versus_default),
            "sentences": self.sentences,
            "extra_fits": self.extra_fits,
            "seconds": self.seconds,
        }


def finalists_study_name(study_name: str) -> str:
    """The finalists' own Optuna study (their fits heartbeat and publish there, as trials do), named
    within the 63 characters a study name (and a Kubernetes label) may have."""
    name = f"{study_name}-finalists"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(study_name.encode()).hexdigest()[:8]
    return f"{study_name[:44]}-{digest}-finalists"


def analyse_finalists(
    spec: TuneSpec,
    prepared: PreparedData,
    search: SearchOutcome,
    tracker: Tracker,
    parent_run_id: str,
    workers: Executor | None = None,
) -> FinalistsOutcome | None:
    """Re-score the finalists, on ``workers`` (the job's, kept open) or on an executor of their own;
    None when the stage does not apply (turned off, several objectives, population-based training,
    whose winner is a schedule rather than a configuration)."""
    settings = spec.analysis
    if not analysis_applies(spec, search):
        return None
    started = time.perf_counter()
    url = storage_url(spec.storage.url)
    storage = open_storage(url, spec.storage.heartbeat_interval, spec.storage.grace_period)
    study = optuna.load_study(study_name=spec.study_name, storage=storage)
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    finalists = pick_finalists(
        study.get_trials(deepcopy=False),
        settings.finalists,
        maximize,
        default_params={} if settings.baseline else None,
    )
    if len(finalists) < 2:
        return None
    base_seed = spec.search.seed if spec.search.seed is not None else 0
    repeats = repeats_for(
        settings.repeats,
        search.n_trials_total,
        len(finalists),
        scores_per_run(prepared.facts.validation, spec.validation.folds),
    )
    seeds = [base_seed + 1 + r for r in range(repeats)]  # other splits than the search's
    requests, finalist_study = _finalist_requests(spec, prepared, storage, finalists, seeds)
    executor = workers if workers is not None else make_executor(spec, storage, finalist_study)
    try:
        executor.start().wait_ready()
        results = run_all(executor, requests)
    finally:
        if workers is None:
            executor.close()
    metric = spec.objective.metrics[0]
    scored = [_scores(f, results.get(i), metric) for i, f in enumerate(finalists)]
    _tell(optuna.load_study(study_name=finalist_study, storage=storage), scored)
    for index, (finalist, scores) in enumerate(zip(finalists, scored)):
        _log_finalist(tracker, spec, parent_run_id, finalist, scores, results.get(index), seeds)
    outcome = judge(
        scored,
        settings.select,
        maximize,
        split_size_ratio(
            prepared.facts.validation, spec.validation.folds, spec.validation.val_size
        ),
    )
    outcome.repeat_seeds = seeds
    outcome.seconds = time.perf_counter() - started
    _record(tracker, parent_run_id, outcome, metric)
    return outcome


def judge(
    scored: list[FinalistScores], rule: SelectionRule, maximize: bool, ratio: float
) -> FinalistsOutcome:
    """The winner by the rule, and the tests of it against the runner-up and against the defaults."""
    selection = select_winner(scored, rule, maximize)
    outcome = FinalistsOutcome(
        scored,
        selection,
        None,
        None,
        [],
        extra_fits=sum(len(s.scores) for s in scored),
        seconds=0.0,
    )
    if selection is None:
        return outcome
    winner = selection.winner
    if len(winner.scores) < 2:  # one holdout run (repeats: 1): nothing to pair, no test
        outcome.sentences.append(
            f"{winner.finalist.label} has one repeated-CV score, too few for a significance test "
            "(set analysis.repeats to 2 or more)"
        )
        return outcome
    if selection.runner_up is not None:
        outcome.versus_runner_up = compare(winner, selection.runner_up, ratio, maximize)
        outcome.sentences.append(
            significance_sentence(
                winner.finalist.label,
                f"the runner-up ({selection.runner_up.finalist.label})",
                outcome.versus_runner_up,
            )
        )
    if outcome.default is not None:
        outcome.versus_default = compare(winner, outcome.default, ratio, maximize)
        outcome.sentences.append(
            significance_sentence(winner.finalist.label, "the defaults", outcome.versus_default)
        )
    return outcome


def analysis_applies(spec: TuneSpec, search: SearchOutcome) -> bool:
    """Finalists are re-scored for one objective and a configuration; several objectives choose from
    the Pareto front, and population-based training's winner is a schedule of configurations."""
    return spec.analysis.enabled and len(spec.objective.metrics) == 1 and not search.schedule


def run_all(executor: Executor, requests: list[TrialRequest]) -> dict[int, TrialResult]:
    """Every request through the executor, as many at once as it has room for; results by number."""
    waiting = list(requests)
    results: dict[int, TrialResult] = {}
    while waiting or executor.running():
        while waiting and len(executor.running()) < executor.capacity:
            executor.submit(waiting.pop(0))
        for result in executor.wait(WAIT_SECONDS):
            results[result.trial_number] = result
    return results


def _finalist_requests(
    spec: TuneSpec,
    prepared: PreparedData,
    storage: optuna.storages.BaseStorage,
    finalists: list[Finalist],
    seeds: list[int],
) -> tuple[list[TrialRequest], str]:
    """One request per finalist, numbered by its place in the list, in a fresh finalists study (a
    resumed study's earlier finalists were scored against a different set of trials)."""
    name = finalists_study_name(spec.study_name)
    try:
        optuna.delete_study(study_name=name, storage=storage)
    except KeyError:
        pass
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        directions=[optuna.study.StudyDirection[d.upper()] for d in spec.objective.directions],
    )
    template = request_template(spec, prepared).model_copy(
        update={"study_name": name, "repeat_seeds": seeds}
    )
    study_id = storage.get_study_id_from_name(name)
    requests = []
    for finalist in finalists:  # a fresh study: trial numbers are the finalists' places in the list
        trial = study.ask()
        trial.set_user_attr(FINALIST_TAG, finalist.label)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        requests.append(
            template.model_copy(
                update={
                    "trial_number": trial.number,
                    "trial_id": trial_id,
                    "params": finalist.params,
                }
            )
        )
    return requests, name


def _tell(study: optuna.Study, scored: list[FinalistScores]) -> None:
    """The finalists' study says what each one scored, as a study of trials would."""
    for number, scores in enumerate(scored):
        if scores.ok:
            study.tell(number, scores.mean)
        else:
            study.tell(number, state=optuna.trial.TrialState.FAIL)


def _scores(finalist: Finalist, result: TrialResult | None, metric: str) -> FinalistScores:
    if result is None:
        return FinalistScores(finalist, error="no result came back")
    if result.state != "COMPLETE":
        return FinalistScores(finalist, error=result.error or result.state)
    return FinalistScores(
        finalist,
        scores=list(result.fold_scores.get(metric, [])),
        fit_seconds=result.fit_seconds_mean,
    )


def _log_finalist(
    tracker: Tracker,
    spec: TuneSpec,
    parent_run_id: str,
    finalist: Finalist,
    scores: FinalistScores,
    result: TrialResult | None,
    seeds: list[int],
) -> None:
    name = (
        "finalist-default"
        if finalist.label == DEFAULT_LABEL
        else f"finalist-{finalist.label.split()[-1]}"
    )
    run_id = tracker.start_child_run(parent_run_id, spec.study_name, name, role="finalist")
    tracker.set_tags(run_id, {FINALIST_TAG: finalist.label})
    tracker.log_params(
        run_id,
        {**spec.model.params, **finalist.params, "repeat_seeds": ",".join(map(str, seeds))},
    )
    metric = spec.objective.metrics[0]
    if scores.ok:
        searched = (
            {} if finalist.search_score is None else {f"search_{metric}": finalist.search_score}
        )
        tracker.log_metrics(
            run_id,
            {
                f"cv_{metric}": scores.mean,
                f"cv_{metric}_standard_error": scores.standard_error,
                "fit_seconds_mean": scores.fit_seconds or 0.0,
                "repeated_cv_scores": float(len(scores.scores)),
                **searched,
            },
        )
    tracker.log_dict(run_id, {"scores": scores.scores, "error": scores.error}, "finalist.json")
    if result is not None and result.state == "COMPLETE":
        tracker.end_run(run_id)
    else:
        tracker.set_tags(run_id, {FAILURE_REASON: (scores.error or "failed")[:5000]})
        tracker.end_run(run_id, status="FAILED")


def _record(tracker: Tracker, parent_run_id: str, outcome: FinalistsOutcome, metric: str) -> None:
    metrics: dict[str, float] = {
        "analysis_repeats": float(len(outcome.repeat_seeds)),
        "analysis_extra_fits": float(outcome.extra_fits),
        "analysis_seconds": outcome.seconds,
    }
    for key, comparison in (
        ("runner_up", outcome.versus_runner_up),
        ("default", outcome.versus_default),
    ):
        if comparison is not None:
            metrics[f"analysis_p_vs_{key}"] = comparison.p_value
            if abs(comparison.effect_size) != float("inf"):
                metrics[f"analysis_effect_vs_{key}"] = comparison.effect_size
    tracker.log_metrics(parent_run_id, metrics)
    tags = {ANALYSIS_SIGNIFICANCE_TAG: "\n".join(outcome.sentences)}
    if outcome.selection is not None:
        tags[ANALYSIS_SELECTION_TAG] = outcome.selection.reason
    tracker.set_tags(parent_run_id, tags)
    tracker.log_dict(parent_run_id, outcome.as_record(metric), FINALISTS_ARTIFACT)
    for sentence in outcome.sentences:
        log.debug("%s", sentence)


@dataclass(frozen=True)
class HeldOutComparison:
    """The refit model's held-out scores with bootstrap intervals, beside the defaults' on the same rows."""

    tuned: dict[str, Interval]
    default: dict[str, Interval]  # empty when the baseline is off or its refit failed
    default_error: str | None = None

    def line(self) -> str | None:
        """``held-out roc_auc: tuned 0.971 [0.955, 0.985] vs default 0.948 [0.928, 0.966]``"""
        if not self.tuned:
            return None
        metric, tuned = next(iter(self.tuned.items()))
        text = f"held-out {metric}: tuned {tuned.text()}"
        if metric in self.default:
            text += f" vs default {self.default[metric].text()}"
        elif self.default_error:
            text += f" (defaults not scored: {self.default_error})"
        return text

    def metrics(self) -> dict[str, float]:
        values: dict[str, float] = {}
        for prefix, intervals in (("test", self.tuned), ("default_test", self.default)):
            for metric, interval in intervals.items():
                values[f"{prefix}_{metric}_ci_low"] = interval.low
                values[f"{prefix}_{metric}_ci_high"] = interval.high
                if prefix == "default_test":
                    values[f"default_test_{metric}"] = interval.estimate
        return values


def compare_on_held_out(
    spec: TuneSpec, prepared: PreparedData, model: Any, target: EvaluationTarget
) -> HeldOutComparison | None:
    """Bootstrap intervals for the refit model and, unless the baseline is off, the family's defaults
    refitted on the same training rows and scored on the same held-out rows."""
    if not spec.analysis.enabled:
        return None
    test = read_frame(prepared.test_uri)
    resamples, seed = spec.analysis.bootstrap_resamples, spec.search.seed
    tuned = holdout_intervals(model, test, target, seed=seed, resamples=resamples)
    if not spec.analysis.baseline:
        return HeldOutComparison(tuned, {})
    try:
        family = get_family(spec.model.family)
        baseline = fit_full(
            family.build(dict(spec.model.params), prepared.facts.task, spec.search.seed),
            read_frame(prepared.train_uri),
            target,
        )
    except Exception as error:  # noqa: BLE001 - a family whose defaults do not fit: say so, keep the study
        return HeldOutComparison(tuned, {}, failure_reason(error))
    # the interval's estimate is the defaults' held-out score
    default = holdout_intervals(baseline, test, target, seed=seed, resamples=resamples)
    return HeldOutComparison(tuned, default)
