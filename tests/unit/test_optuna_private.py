"""kubetune's uses of Optuna's private API (kubetune.components.core.optuna_private), each exercised on
the installed Optuna, with journal and PostgreSQL storage. A new Optuna release fails the pin first:
re-read the accessors against it, then move CHECKED_OPTUNA."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution

from kubetune.components.core import (
    CHECKED_OPTUNA,
    heartbeat_enabled,
    in_distribution,
    rdb_engine,
    rdb_models,
    storage_of,
    study_id_of,
    trial_id_of,
)
from kubetune.components.execution import open_storage


def test_pinned_to_the_installed_optuna_release() -> None:
    assert ".".join(optuna.__version__.split(".")[:2]) == CHECKED_OPTUNA


@pytest.fixture(params=["journal", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "journal":
        return f"journal://{tmp_path / 'study.journal'}"
    return request.getfixturevalue("postgres_url")


def test_ids_and_storage_reach_the_trial_optuna_made(storage_url: str) -> None:
    storage = open_storage(storage_url)
    study = optuna.create_study(study_name=f"private-{id(storage)}", storage=storage)
    trial = study.ask()
    study.tell(trial, 0.5)
    assert study_id_of(study) == storage.get_study_id_from_name(study.study_name)
    frozen = study.trials[0]
    assert (
        trial_id_of(trial)
        == trial_id_of(frozen)
        == storage.get_trial_id_from_study_id_trial_number(study_id_of(study), 0)
    )
    assert storage_of(study).get_trial(trial_id_of(trial)).value == 0.5
    is_rdb = storage_url.startswith("postgresql")
    assert (rdb_engine(study) is not None) == is_rdb
    assert (
        heartbeat_enabled(storage_of(study)) == is_rdb
    )  # kubetune opens RDB storage with heartbeats
    if is_rdb:
        from sqlalchemy import func, select

        models = rdb_models()
        query = (
            select(func.count())
            .select_from(models.TrialModel)
            .where(models.TrialModel.study_id == study_id_of(study))
        )
        with rdb_engine(study).connect() as connection:
            assert connection.execute(query).scalar_one() == 1


@pytest.mark.parametrize(
    "distribution, value, inside",
    [
        (FloatDistribution(0.0, 1.0), 0.5, True),
        (FloatDistribution(0.0, 1.0), 1.5, False),
        (IntDistribution(0, 10, step=2), 4, True),
        (IntDistribution(0, 10, step=2), 3, False),
    ],
)
def test_membership_of_a_distribution(distribution, value, inside) -> None:
    assert in_distribution(distribution, value) is inside
