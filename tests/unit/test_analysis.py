"""The analysis stage's pure parts: the corrected resampled t-test, the held-out bootstrap interval, the
finalists and the selection rules, checked against SciPy and scikit-learn computing the same numbers."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, mean_absolute_error, roc_auc_score

from kubetune.components.analysis import (
    DEFAULT_LABEL,
    Finalist,
    FinalistScores,
    corrected_resampled_ttest,
    holdout_intervals,
    pick_finalists,
    repeats_for,
    select_winner,
    significance_sentence,
    split_size_ratio,
)
from kubetune.components.core import EvaluationTarget
from kubetune.components.evaluation.cross_validation import fit_full, score_holdout


def test_without_the_correction_it_is_scipys_paired_t_test():
    rng = np.random.default_rng(0)
    a = rng.normal(0.80, 0.02, 15)
    b = a - rng.normal(0.01, 0.01, 15)
    plain = stats.ttest_rel(a, b)
    ours = corrected_resampled_ttest(a, b, split_size_ratio=0.0)
    assert ours.t_statistic == pytest.approx(plain.statistic)
    assert ours.p_value == pytest.approx(plain.pvalue)


def test_the_correction_inflates_the_variance_by_the_split_size_ratio():
    rng = np.random.default_rng(1)
    a = rng.normal(0.80, 0.02, 15)
    b = a - rng.normal(0.01, 0.01, 15)
    differences = a - b
    n, ratio = len(differences), 1 / 4  # 5-fold: a fifth validates, four fifths train
    expected_t = differences.mean() / math.sqrt((1 / n + ratio) * differences.var(ddof=1))
    ours = corrected_resampled_ttest(a, b, ratio)
    assert ours.t_statistic == pytest.approx(expected_t)
    assert ours.p_value == pytest.approx(2 * stats.t.sf(abs(expected_t), n - 1))
    assert ours.p_value > stats.ttest_rel(a, b).pvalue  # more careful than the naive test
    assert ours.effect_size == pytest.approx(differences.mean() / differences.std(ddof=1))


def test_minimizing_turns_the_sign_and_identical_scores_are_no_evidence():
    a, b = [0.30, 0.31, 0.29, 0.30], [0.35, 0.36, 0.34, 0.36]  # a is the lower loss
    assert corrected_resampled_ttest(a, b, 0.25, maximize=False).mean_difference > 0
    same = corrected_resampled_ttest([0.9, 0.8, 0.85], [0.9, 0.8, 0.85], 0.25)
    assert same.p_value == 1.0 and not same.significant()


def test_paired_scores_must_pair():
    with pytest.raises(ValueError, match="paired scores"):
        corrected_resampled_ttest([0.9, 0.8], [0.9], 0.25)


@pytest.mark.parametrize(
    ("validation", "folds", "val_size", "ratio"),
    [("kfold", 5, 0.2, 0.25), ("stratified_kfold", 10, 0.2, 1 / 9), ("holdout", 5, 0.2, 0.25)],
)
def test_split_size_ratio(validation, folds, val_size, ratio):
    assert split_size_ratio(validation, folds, val_size) == pytest.approx(ratio)


def test_equal_configurations_up_to_noise_are_not_called_different():
    """Two equally good configurations: their paired differences have mean zero but are correlated
    across folds, as folds that share training rows make them (correlation about the validation
    fraction, Nadeau and Bengio). Over many simulated studies the corrected test calls them different at
    most at its nominal 5 %; the naive paired t-test does so several times as often."""
    rng = np.random.default_rng(7)
    rho, n, studies = 0.2, 15, 2000  # 5-fold: a fifth of the rows validate; 3 repeats
    corrected = naive = 0
    for _ in range(studies):
        differences = math.sqrt(rho) * rng.normal() + math.sqrt(1 - rho) * rng.normal(size=n)
        a = 0.85 + 0.01 * rng.normal(size=n)
        b = a - 0.01 * differences
        corrected += corrected_resampled_ttest(a, b, 0.25).significant()
        naive += stats.ttest_rel(a, b).pvalue < 0.05
    assert corrected / studies <= 0.06
    assert naive / studies > 3 * max(corrected / studies, 0.01)


def classification_split():
    X, y = make_classification(n_samples=600, n_features=8, random_state=3)
    frame = __import__("pandas").DataFrame(X, columns=[f"x{i}" for i in range(8)])
    frame["label"] = y
    return frame.iloc[:400], frame.iloc[400:]


def test_holdout_interval_is_around_the_score_the_refit_reports():
    train, test = classification_split()
    target = EvaluationTarget("label", (), ("roc_auc", "accuracy", "log_loss"), 2, 1)
    model = fit_full(LogisticRegression(max_iter=1000), train, target)
    scores = score_holdout(model, test, target)
    intervals = holdout_intervals(model, test, target, seed=0, resamples=300)
    for metric, interval in intervals.items():
        assert interval.estimate == pytest.approx(scores[metric])
        assert interval.low < interval.estimate < interval.high
    # the replayed predictions are the model's: the same numbers scikit-learn computes directly
    X, y = test.drop(columns="label"), test["label"]
    assert intervals["roc_auc"].estimate == pytest.approx(
        roc_auc_score(y, model.predict_proba(X)[:, 1])
    )
    assert intervals["accuracy"].estimate == pytest.approx(accuracy_score(y, model.predict(X)))
    assert intervals["log_loss"].estimate == pytest.approx(log_loss(y, model.predict_proba(X)))
    # a percentile interval of a proportion over 200 rows is a few points wide, not zero, not huge
    assert 0.02 < intervals["accuracy"].high - intervals["accuracy"].low < 0.2


def test_holdout_interval_on_a_regression_and_cost_metrics_have_none():
    X, y = make_regression(n_samples=300, n_features=5, noise=10, random_state=0)
    frame = __import__("pandas").DataFrame(X, columns=list("abcde"))
    frame["y"] = y
    target = EvaluationTarget("y", (), ("mae", "inference_ms"), None)
    model = fit_full(RandomForestRegressor(n_estimators=20, random_state=0), frame[:200], target)
    intervals = holdout_intervals(model, frame[200:], target, seed=1, resamples=200)
    assert set(intervals) == {"mae"}
    test = frame[200:]
    assert intervals["mae"].estimate == pytest.approx(
        mean_absolute_error(test["y"], model.predict(test.drop(columns="y")))
    )


def trial(number, value, **params):
    return SimpleNamespace(
        number=number, values=[value], params=params, state=SimpleNamespace(name="COMPLETE")
    )


def test_finalists_are_the_best_distinct_configurations_then_the_defaults():
    trials = [
        trial(0, 0.80, depth=3),
        trial(1, 0.90, depth=5),
        trial(2, 0.90, depth=5),  # the same configuration again (a re-queued trial)
        trial(3, 0.85, depth=4),
        SimpleNamespace(
            number=4, values=None, params={"depth": 9}, state=SimpleNamespace(name="FAIL")
        ),
    ]
    finalists = pick_finalists(trials, 2, maximize=True, default_params={})
    assert [f.label for f in finalists] == ["trial 1", "trial 3", DEFAULT_LABEL]
    assert finalists[0].search_score == 0.90 and finalists[-1].params == {}
    lowest = pick_finalists(trials, 1, maximize=False, default_params=None)
    assert [f.label for f in lowest] == ["trial 0"]


def scored(label, scores, fit_seconds=1.0):
    return FinalistScores(Finalist(label, {}), list(scores), fit_seconds)


def test_best_mean_rule_and_the_defaults_are_never_chosen():
    finalists = [
        scored("trial 1", [0.80, 0.82, 0.81]),
        scored("trial 2", [0.84, 0.86, 0.85]),
        scored(DEFAULT_LABEL, [0.95, 0.95, 0.95]),
    ]
    selection = select_winner(finalists, "best_mean", maximize=True)
    assert selection.winner.finalist.label == "trial 2"
    assert selection.runner_up.finalist.label == "trial 1"
    assert "best_mean" in selection.reason


def test_one_standard_error_rule_takes_the_cheapest_close_to_the_best():
    finalists = [
        scored("trial 1", [0.84, 0.86, 0.85, 0.83], fit_seconds=9.0),  # best mean, slow
        scored("trial 2", [0.845, 0.85, 0.84, 0.835], fit_seconds=1.0),  # within one SE, fast
        scored("trial 3", [0.70, 0.71, 0.69, 0.70], fit_seconds=0.1),  # fastest, far worse
    ]
    selection = select_winner(finalists, "one_standard_error", maximize=True)
    assert selection.winner.finalist.label == "trial 2"
    assert "within one standard error" in selection.reason
    assert select_winner(finalists, "best_mean", True).winner.finalist.label == "trial 1"


def test_a_failed_finalist_is_left_out_and_none_scored_means_no_selection():
    failed = FinalistScores(Finalist("trial 1", {}), error="ValueError: boom")
    assert select_winner([failed], "best_mean", True) is None
    selection = select_winner([failed, scored("trial 2", [0.5, 0.6])], "best_mean", True)
    assert selection.winner.finalist.label == "trial 2" and selection.runner_up is None


def test_the_sentence_says_what_the_test_found():
    same = corrected_resampled_ttest([0.9, 0.8, 0.85], [0.9, 0.8, 0.85], 0.25)
    assert "not significantly different from the runner-up" in significance_sentence(
        "trial 3", "the runner-up", same
    )
    better = corrected_resampled_ttest([0.9] * 5 + [0.91] * 5, [0.7] * 5 + [0.72] * 5, 0.25)
    assert "is significantly better than the defaults" in significance_sentence(
        "trial 3", "the defaults", better
    )
    assert "not compared" in significance_sentence("trial 3", "the defaults", None)


@pytest.mark.parametrize(
    "requested, trials, configurations, scores_per_repeat, expected",
    [
        (5, 10, 6, 5, 5),  # as asked, whatever it costs
        ("auto", 30, 6, 5, 1),  # 6 x 1 fits within 7.5
        ("auto", 60, 6, 5, 2),  # 12 within 15
        ("auto", 100, 6, 5, 3),  # 18 within 25
        ("auto", 1000, 6, 5, 3),  # never more than 3
        ("auto", 4, 6, 5, 1),  # never fewer than 1
        ("auto", 16, 2, 3, 2),
        ("auto", 30, 6, 1, 2),  # a holdout split scores once a run: two runs for a paired test
    ],
)
def test_auto_repeats_keep_the_finalists_within_a_quarter_of_the_search(
    requested, trials, configurations, scores_per_repeat, expected
):
    assert repeats_for(requested, trials, configurations, scores_per_repeat) == expected


def test_a_single_score_per_finalist_gets_no_test_and_says_why():
    """``repeats: 1`` on a holdout split: one score each; the winner is still chosen, no test is run."""
    from kubetune.components.pipeline.analysis_step import judge

    scored = [
        FinalistScores(Finalist("trial 1", {"a": 1}, 1, 0.9), [0.91]),
        FinalistScores(Finalist("trial 2", {"a": 2}, 2, 0.8), [0.85]),
    ]
    outcome = judge(scored, "best_mean", True, 0.25)
    assert outcome.selection is not None and outcome.selection.winner is scored[0]
    assert outcome.versus_runner_up is None and outcome.versus_default is None
    assert outcome.sentences == [
        "trial 1 has one repeated-CV score, too few for a significance test "
        "(set analysis.repeats to 2 or more)"
    ]
