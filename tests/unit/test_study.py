"""Resuming a study: the same name resumes only with the same directions, search space and data."""

import optuna
import pytest

from kubetune.components.core import DATA_FINGERPRINT_ATTR, StudyConflictError
from kubetune.components.execution import open_storage
from kubetune.components.search.study import check_resumable, open_study


@pytest.fixture
def storage(tmp_path):
    return open_storage(f"journal://{tmp_path / 'studies.journal'}")


def sampler():
    return optuna.samplers.RandomSampler(seed=0)


def test_a_study_resumes_with_the_same_directions_space_and_data(storage):
    study, resumed = open_study("s", storage, sampler(), ["maximize"], "space-a", "data-a")
    assert not resumed and study.user_attrs[DATA_FINGERPRINT_ATTR] == "data-a"
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    again, resumed = open_study("s", storage, sampler(), ["maximize"], "space-a", "data-a")
    assert resumed and len(again.trials) == 2


DATA_A, DATA_B = "a" * 64, "b" * 64  # fingerprints are SHA-256 hex digests


@pytest.mark.parametrize(
    ("directions", "space", "data", "says"),
    [
        (
            ["minimize"],
            "space-a",
            DATA_A,
            "study 's' exists with directions ['maximize']; use another --study-name",
        ),
        (
            ["maximize"],
            "space-b",
            DATA_A,
            "study 's' exists with a different search space; use another --study-name",
        ),
        (
            ["maximize"],
            "space-a",
            DATA_B,
            "study 's' was run on other data (fingerprint aaaaaaaaaaaa, this data bbbbbbbbbbbb); "
            "use another --study-name, or `kubetune retrain`, which names a study after its data",
        ),
    ],
)
def test_a_study_is_not_resumed_by_an_incompatible_spec_and_keeps_its_trials(
    storage, directions, space, data, says
):
    study, _ = open_study("s", storage, sampler(), ["maximize"], "space-a", DATA_A)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    with pytest.raises(StudyConflictError) as raised:
        open_study("s", storage, sampler(), directions, space, data)
    assert str(raised.value) == says
    assert (
        len(optuna.load_study(study_name="s", storage=storage).trials) == 3
    )  # nothing recorded is lost


def test_a_study_from_before_data_fingerprints_resumes_on_any_data(storage):
    optuna.create_study(study_name="old", storage=storage)  # no fingerprint attributes at all
    assert check_resumable("old", storage, ["minimize"], "space-a", "data-z")
