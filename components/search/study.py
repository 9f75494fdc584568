"""Create or resume the Optuna study, refusing to resume one built from an incompatible spec."""

from __future__ import annotations

from collections.abc import Sequence

import optuna

from kubetune.components.core import (
    DATA_FINGERPRINT_ATTR,
    SPACE_FINGERPRINT_ATTR,
    StudyConflictError,
)


def open_study(
    name: str,
    storage: optuna.storages.BaseStorage,
    sampler: optuna.samplers.BaseSampler,
    directions: Sequence[str],
    space_fingerprint: str,
    data_fingerprint: str | None = None,
) -> tuple[optuna.Study, bool]:
    """Returns (study, resumed). A study of the same name resumes only with the same space, directions and data."""
    if check_resumable(name, storage, directions, space_fingerprint, data_fingerprint):
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler), True
    try:
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            sampler=sampler,
            directions=[optuna.study.StudyDirection[d.upper()] for d in directions],
        )
    except optuna.exceptions.DuplicatedStudyError:  # another controller created it a moment ago
        check_resumable(name, storage, directions, space_fingerprint, data_fingerprint)
        return optuna.load_study(study_name=name, storage=storage, sampler=sampler), True
    study.set_user_attr(SPACE_FINGERPRINT_ATTR, space_fingerprint)
    if data_fingerprint is not None:
        study.set_user_attr(DATA_FINGERPRINT_ATTR, data_fingerprint)
    return study, False


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    """The trial to refit: the single best, or on several objectives the Pareto trial best on the first."""
    if len(study.directions) == 1:
        return study.best_trial
    sign = 1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1
    return max(study.best_trials, key=lambda t: sign * t.values[0])


def check_resumable(
    name: str,
    storage: optuna.storages.BaseStorage,
    directions: Sequence[str],
    space_fingerprint: str,
    data_fingerprint: str | None = None,
) -> bool:
    """Raise StudyConflictError if ``name`` exists but cannot be resumed by this spec; True if it exists.

    Other data under the same name is refused too: the resumed trials would be scored on the new data
    beside trials scored on the old, the sampler would model both as one objective, and the parent run's
    data fingerprint would no longer say what the model was tuned on. (``kubetune retrain`` names each
    study after its data, so scheduled runs on fresh data never meet this.)"""
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return False
    wanted = [optuna.study.StudyDirection[d.upper()] for d in directions]
    if list(study.directions) != wanted:
        raise StudyConflictError(
            f"study '{name}' exists with directions {[d.name.lower() for d in study.directions]}; use another --study-name"
        )
    stored = study.user_attrs.get(SPACE_FINGERPRINT_ATTR)
    if stored is not None and stored != space_fingerprint:
        raise StudyConflictError(
            f"study '{name}' exists with a different search space; use another --study-name"
        )
    recorded = study.user_attrs.get(DATA_FINGERPRINT_ATTR)
    if data_fingerprint is not None and recorded is not None and recorded != data_fingerprint:
        raise StudyConflictError(
            f"study '{name}' was run on other data (fingerprint {recorded[:12]}, this data {data_fingerprint[:12]}); "
            "use another --study-name, or `kubetune retrain`, which names a study after its data"
        )
    return True
