"""When a re-run may keep the study's earlier refit: only when nothing it depends on has changed."""

from types import SimpleNamespace

import pytest

from kubetune.components.registry.refit_reuse import WantedRefit, matches

WANTED = WantedRefit(
    params={"C": "0.5", "best_trial_number": "3"},
    registered_model="churn",
    data_fingerprint="f" * 64,
    seed="1",
    n_test="60",
    metrics=["roc_auc"],
)


def run(params=None, tags=None, metrics=None, status="FINISHED"):
    """An MLflow run as the client returns it: info.status and data.params/tags/metrics."""
    return SimpleNamespace(
        info=SimpleNamespace(status=status),
        data=SimpleNamespace(params=params or {}, tags=tags or {}, metrics=metrics or {}),
    )


def parent(**changes):
    tags = {
        "kubetune.data_fingerprint": "f" * 64,
        "kubetune.registered_model": "churn",
        **changes.pop("tags", {}),
    }
    return run(params={"seed": "1", "n_test": "60", **changes.pop("params", {})}, tags=tags)


def refit(**changes):
    return run(
        params=changes.pop("params", dict(WANTED.params)),
        metrics=changes.pop("metrics", {"test_roc_auc": 0.9, "cv_roc_auc": 0.91}),
        **changes,
    )


def test_an_unchanged_study_keeps_its_refit():
    assert matches(WANTED, parent(), refit())


@pytest.mark.parametrize(
    ("parent_run", "refit_run"),
    [
        (parent(tags={"kubetune.data_fingerprint": "e" * 64}), refit()),  # other data
        (
            parent(tags={"kubetune.registered_model": "other"}),
            refit(),
        ),  # registered under another name
        (parent(params={"seed": "2"}), refit()),  # another split and refit seed
        (parent(params={"n_test": "50"}), refit()),  # another held-out test set size
        (parent(), refit(status="FAILED")),  # the refit crashed
        (
            parent(),
            refit(params={"C": "0.7", "best_trial_number": "4"}),
        ),  # another best configuration
        (
            parent(),
            refit(metrics={"test_accuracy": 0.8, "cv_accuracy": 0.8}),
        ),  # the objective's metric changed
    ],
)
def test_anything_the_refit_depends_on_changing_means_a_new_refit(parent_run, refit_run):
    assert not matches(WANTED, parent_run, refit_run)


def test_a_finalist_chosen_refit_is_kept_when_what_the_choice_stands_on_is_unchanged():
    """The analysis may refit a finalist other than the search's best trial: the re-run, which knows only
    the search's best, compares the basis of the choice instead of the configuration."""
    basis = {"search_best_trial_number": "3", "trials_in_study": "20", "analysis": "finalists=5"}
    wanted = WantedRefit(**{**WANTED.__dict__, "selection_basis": basis})
    chosen_other = refit(params={"C": "0.7", "best_trial_number": "4", **basis})
    assert matches(wanted, parent(), chosen_other)
    for key, changed in [
        ("search_best_trial_number", "5"),  # the search found a better trial
        ("trials_in_study", "25"),  # more trials: other finalists may qualify
        ("analysis", "finalists=3"),  # other analysis settings
    ]:
        moved = refit(params={**chosen_other.data.params, key: changed})
        assert not matches(wanted, parent(), moved), key
