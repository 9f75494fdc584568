"""Checks of the spec against the data, run before any run is recorded or any trial starts.

``kubetune.components.spec.schema`` checks what needs no data; this module checks what does (the target column, NaN
targets, the task and whether the family and metric fit it, enough rows for the folds) and returns the
facts the rest of the job needs, so they are computed once.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kubetune.components.core import SpecError
from kubetune.components.data import (
    NumericText,
    identifier_columns,
    infer_task,
    nested_columns,
    numeric_text_columns,
    unencodable_dtype,
)
from kubetune.components.evaluation import default_positive_class, metric_fits_task
from kubetune.components.models import get_family
from kubetune.components.spec import TuneSpec


@dataclass(frozen=True)
class DataFacts:
    task: str
    n_rows: int
    n_features: int
    n_classes: int | None
    validation: str
    # two classes: the one f1, precision, recall and average precision score
    positive_class: Any = None
    # features that name rows (kubetune.components.data.frames.identifier_columns)
    identifier_columns: tuple[str, ...] = ()
    # text features whose cells are mostly numbers (kubetune.components.data.frames.numeric_text_columns)
    numeric_text: tuple[NumericText, ...] = ()


def data_notices(facts: DataFacts) -> list[str]:
    """What may be wrong with the data but may also be meant: one line each, for ``validate`` to print and
    ``tune`` to log and record on the parent run (``kubetune.data_warnings``)."""
    notices = [identifier_notice(facts.identifier_columns)]
    for column in facts.numeric_text:
        shown = ", ".join(repr(v) for v in column.examples)
        notices.append(
            f"data: column '{column.column}' is read as text because {column.n_not_numbers} of its "
            f"{column.n_cells} cells are not numbers ({shown}): list such cells in data.missing_values or "
            "fix them, so it is read as a number; as text it is one-hot encoded and the model requires strings"
        )
    return [notice for notice in notices if notice]


def identifier_notice(columns: tuple[str, ...] | list[str]) -> str | None:
    """One line for the user, not an error: the column may be meant (a code with one row per value)."""
    if not columns:
        return None
    shown = ", ".join(f"'{c}'" for c in columns[:5]) + (", ..." if len(columns) > 5 else "")
    return (
        f"data: column(s) {shown} hold a different value in every row, as ids or a saved index do: a model cannot "
        "learn from them, and the registered model would require them; list them in data.drop unless they are meant"
    )


def _how_cells_read_missing(spec: TuneSpec) -> str:
    """Why a target the user sees filled in can read as missing: pandas' default list of missing tokens."""
    chosen = spec.data.missing_values
    if chosen is not None:
        return f"NaN; data.missing_values reads these CSV cells as missing: {', '.join(repr(v) for v in chosen) or 'none'}"
    return (
        "NaN; a CSV cell that is empty or reads NA, N/A, None, null or NaN is read as missing, a class named None "
        "included; data.missing_values sets which cells are"
    )


def check_data(spec: TuneSpec, frame: pd.DataFrame) -> DataFacts:
    source, target = spec.data.source, spec.data.target
    if frame.empty or len(frame) == 0:
        raise SpecError(f"data.source: '{source}' has no rows")
    if target not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:8])) + (
            ", ..." if frame.shape[1] > 8 else ""
        )
        raise SpecError(f"data.target: column '{target}' not found in {source} (columns: {shown})")
    missing_drop = [c for c in spec.data.drop if c not in frame.columns]
    if missing_drop:
        raise SpecError(f"data.drop: column '{missing_drop[0]}' not found in {source}")
    if frame.shape[1] - 1 - len(spec.data.drop) < 1:
        raise SpecError(f"data.source: '{source}' has no feature columns besides the target")
    features = frame.columns.drop([target, *spec.data.drop])
    # problems of the data that do not depend on each other are said together, not one per run
    problems: list[str] = []
    nested = [column for column in nested_columns(frame) if column in features]
    if nested:
        problems.append(
            f"data.source: column '{nested[0]}' holds lists or mappings (a nested Parquet column), which "
            "kubetune does not encode; list it in data.drop, or flatten it into columns of numbers or text"
        )
    unencodable = [column for column in features if unencodable_dtype(frame[column].dtype)]
    if unencodable:
        column = unencodable[0]
        problems.append(
            f"data.source: column '{column}' holds {frame[column].dtype} values, which kubetune does not encode; "
            "list it in data.drop, or add numbers derived from it (days since a date, the month) to the data"
        )
    infinite = {
        column: int(np.isinf(frame[column].to_numpy(dtype=float, na_value=np.nan)).sum())
        for column in features
        if pd.api.types.is_float_dtype(frame[column].dtype)
    }
    column, count = max(infinite.items(), key=lambda item: item[1], default=(None, 0))
    if count:
        problems.append(
            f"data.source: column '{column}' has {count} infinite value(s) (inf, -inf), which no model can fit; "
            "replace them with a number or leave the cells empty (missing values are imputed)"
        )
    n_missing = int(frame[target].isna().sum())
    if n_missing:
        problems.append(
            f"data.target: {n_missing} of {len(frame)} rows have no target value ({_how_cells_read_missing(spec)})"
        )
    if problems:
        raise SpecError(_together(problems))
    task = spec.data.task or infer_task(frame[target])
    if task == "regression" and not pd.api.types.is_numeric_dtype(frame[target]):
        raise SpecError(
            f"data.task: regression needs a numeric target, '{target}' is {frame[target].dtype}"
        )
    family = get_family(spec.model.family)
    if task not in family.tasks:
        raise SpecError(f"model.family: {spec.model.family} does not do {task}")
    for metric in spec.objective.metrics:
        if not metric_fits_task(metric, task):
            raise SpecError(f"objective.metric: '{metric}' does not fit a {task} task")
    n_classes = int(frame[target].nunique()) if task == "classification" else None
    if n_classes is not None and n_classes < 2:
        raise SpecError(
            f"data.target: '{target}' has a single class; classification needs two or more"
        )
    if task == "regression" and frame[target].nunique() < 2:
        # every model predicts it exactly: r2 read 1.0 and the model was registered
        raise SpecError(
            f"data.target: '{target}' is {frame[target].iloc[0]} in every row; there is nothing to learn"
        )
    copy = _copy_of_target(frame, target, spec.data.drop)
    if copy is not None:
        raise SpecError(
            f"data.source: column '{copy}' equals the target '{target}' in every row (a copy of the label: "
            f"every score would be perfect); list it in data.drop"
        )
    validation = spec.validation.strategy or (
        "stratified_kfold" if task == "classification" else "kfold"
    )
    if validation == "stratified_kfold" and task != "classification":
        raise SpecError("validation.strategy: stratified_kfold needs a classification task")
    n_train = int(len(frame) * (1 - spec.data.test_size))
    if (
        validation in ("kfold", "stratified_kfold", "time_series")
        and n_train < 2 * spec.validation.folds
    ):
        raise SpecError(
            f"validation.folds: {spec.validation.folds} folds need at least {2 * spec.validation.folds} "
            f"training rows, {source} leaves {n_train}"
        )
    if validation == "stratified_kfold":
        counts = frame[target].value_counts()
        rarest, smallest = counts.idxmin(), int(counts.min())
        needed = int(spec.validation.folds / (1 - spec.data.test_size)) + 1
        if smallest < needed:
            raise SpecError(
                f"validation.folds: the rarest class, {_shown(rarest)}, has {smallest} rows, too few for "
                f"{spec.validation.folds} stratified folds after the held-out split (it needs {needed}); "
                "fewer folds, or more rows of that class"
            )
    n_features = frame.shape[1] - 1 - len(spec.data.drop)
    feature_types = frame.dtypes.drop([target, *spec.data.drop])
    # only all-numeric data: one-hot encoding changes the count of categorical columns
    if all(map(pd.api.types.is_numeric_dtype, feature_types)) and (
        problem := family.check_features(n_features, spec.model.params)
    ):
        raise SpecError(problem)
    return DataFacts(
        task,
        len(frame),
        n_features,
        n_classes,
        validation,
        positive_class(spec, frame[target], n_classes),
        tuple(identifier_columns(frame[features])),
        tuple(numeric_text_columns(frame[features])),
    )


def _copy_of_target(frame: pd.DataFrame, target: str, drop: list[str]) -> str | None:
    """A feature column holding the target itself (a duplicated header, a leaked label): the first one found.
    The first rows are compared first, so only a column that starts as a copy costs a pass over every row."""
    label = frame[target]
    head = _as_text(label.head(_HEAD_ROWS))
    for name in frame.columns:
        if name == target or name in drop:
            continue
        column = frame[name]
        if not _as_text(column.head(_HEAD_ROWS)).equals(head):
            continue
        if _as_text(column).equals(_as_text(label)):
            return str(name)
    return None


_HEAD_ROWS = 1000


def _as_text(values: pd.Series) -> pd.Series:
    """Values as text with gaps kept as gaps: 1 and 1.0 of two dtypes differ, as they did before."""
    return values.astype(str).where(values.notna(), None).reset_index(drop=True)


def positive_class(spec: TuneSpec, target: pd.Series, n_classes: int | None) -> Any:
    """The class a two-class study's f1, precision, recall and average precision score: the spec's
    ``objective.positive_class``, checked against the labels, or the later label in sort order."""
    chosen = spec.objective.positive_class
    if n_classes != 2:
        if chosen is not None:
            raise SpecError(
                f"objective.positive_class: only a two-class target has one; '{spec.data.target}' has "
                + (f"{n_classes} classes" if n_classes else "numbers (regression)")
            )
        return None
    labels = target.drop_duplicates().tolist()  # Python values: they travel in JSON to the trials
    if chosen is None:
        return default_positive_class(labels)
    match = [label for label in labels if label == chosen]
    if not match:
        raise SpecError(
            f"objective.positive_class: {chosen!r} is not a class of '{spec.data.target}' ({', '.join(map(repr, sorted(labels, key=str)))})"
        )
    return match[0]


_UNEXPECTED_KEYWORD = re.compile(r"unexpected keyword argument '([^']+)'")


def check_parameter_names(spec: TuneSpec, space: dict[str, Any], task: str) -> list[str]:
    """Every searched and fixed parameter must be one the family's estimator takes: a misspelt name
    otherwise fails every trial (on a cluster, every pod) with the same TypeError. The estimator is built
    once with a representative value for each name -- the call every trial makes -- so families of any
    kind (scikit-learn, PyTorch, a user's package.module:Class) are checked the same way. Returns the
    names checked."""
    family = get_family(spec.model.family)
    representative = {
        name: (param.choices[0] if param.type == "categorical" else param.low)
        for name, param in space.items()
    }
    params = {**spec.model.params, **representative}
    try:
        family.build(params, task, spec.search.seed)
    except TypeError as error:
        unknown = _UNEXPECTED_KEYWORD.search(str(error))
        if unknown is not None:
            raise SpecError(
                _unknown_parameter(spec.model.family, family, unknown.group(1), space, task)
            ) from None
    except Exception:  # noqa: BLE001 - a build refusing a value is the failure of the trials that draw it
        pass
    return sorted(params)


def _unknown_parameter(
    family_name: str, family: Any, name: str, space: dict[str, Any], task: str
) -> str:
    where = "model.space" if name in space else "model.params"
    known = _parameter_names(family, task)
    close = difflib.get_close_matches(name, known, n=1)
    hint = (
        f" (did you mean '{close[0]}'?)"
        if close
        else (f" (it takes: {', '.join(known[:12])})" if known else "")
    )
    return f"{where}.{name}: {family_name} has no parameter '{name}'{hint}"


def _parameter_names(family: Any, task: str) -> list[str]:
    """The names a scikit-learn-style estimator takes (``get_params``), for the hint; [] when it has none."""
    try:
        estimator = family.build({}, task, None)
        # a TransformedTargetRegressor: the names are its regressor's
        estimator = getattr(estimator, "regressor", estimator)
        return sorted(estimator.get_params(deep=False))
    except Exception:  # noqa: BLE001 - only a hint: a family without get_params gets none
        return []


def checked_space(spec: TuneSpec, facts: DataFacts) -> dict[str, Any]:
    """The study's space as every step that runs or shows trials needs it: fitted to the fewest rows a
    model trains on, and with every parameter name one the family takes -- so the CLI's preflight, the
    dry run and the flow (a deployment runs it without the CLI) refuse a misspelt name alike."""
    from kubetune.components.search import resolve_space

    space = resolve_space(spec, facts.task, smallest_fit_rows(spec, facts))
    check_parameter_names(spec, space, facts.task)
    return space


def smallest_fit_rows(spec: TuneSpec, facts: DataFacts) -> int:
    """The fewest rows any model is fitted on: the training part of the smallest cross-validation split.

    Some parameters cannot exceed it (k-NN's ``n_neighbors``), so the space is fitted to it before the
    study starts instead of every such trial failing. Mirrors the held-out split (kubetune.components.data.frames) and
    scikit-learn's splitters: k-fold and stratified k-fold validation folds hold at most ceil(n / folds)
    rows, the first time-series split trains on what the folds leave, a holdout keeps ceil(val_size * n).
    """
    # kubetune.components.data.frames.split_holdout: time series round, shuffles ceil
    held_out = facts.n_rows * spec.data.test_size
    n_train = facts.n_rows - max(
        1, round(held_out) if facts.validation == "time_series" else math.ceil(held_out)
    )
    folds = spec.validation.folds
    if facts.validation == "holdout":
        return n_train - math.ceil(n_train * spec.validation.val_size)
    if facts.validation == "time_series":
        return n_train - folds * (n_train // (folds + 1))
    return n_train - math.ceil(n_train / folds)


def check_cluster_stores(spec: TuneSpec) -> None:
    """Trial pods reach the study through a shared storage and the data through an artifact store: a
    Kubernetes study without both cannot run, and a dry run must not print a Job that could not either."""
    from kubetune.components.data import artifact_root
    from kubetune.components.execution import journal_path, storage_url

    if spec.executor.kind != "kubernetes":
        return
    if journal_path(storage_url(spec.storage.url)) is not None:
        raise SpecError(
            "storage.url: the kubernetes executor needs a study storage pods can reach: set storage.url or "
            "KUBETUNE_STORAGE_URL to a postgresql:// URL (pods read it through executor.kubernetes.secretEnv)"
        )
    if not artifact_root(spec.artifacts.uri):
        raise SpecError(
            "artifacts.uri: the kubernetes executor needs an artifact store pods can read (s3://... or a mounted path)"
        )


def preflight(spec: TuneSpec, frame: pd.DataFrame | None = None) -> DataFacts:
    """Every check that can fail before a run is recorded: data, space, sampler, storage, resumability.
    ``frame``: the source's data when the caller has read it already (``retrain`` names its study after it).

    Raises SpecError / StudyConflictError with a one-line message; returns the data facts on success.
    """
    from kubetune.components.data import artifact_root, fingerprint, read_data
    from kubetune.components.execution import (
        check_storage_url,
        journal_path,
        open_storage,
        storage_url,
    )
    from kubetune.components.pipeline.endpoints import check_artifacts, check_mlflow
    from kubetune.components.search import check_resumable, sampler_for, space_fingerprint
    from kubetune.components.tracking import resolve_tracking_uri

    frame = read_data(spec.data) if frame is None else frame
    # before any check can touch the frame: what prepare_data will record
    data_fingerprint = fingerprint(frame)
    facts = check_data(spec, frame)
    space = checked_space(spec, facts)
    # a grid the space cannot form, cmaes with several objectives: errors now
    sampler_for(spec, space)
    url = storage_url(spec.storage.url)
    check_cluster_stores(spec)
    check_mlflow(resolve_tracking_uri(spec.tracking.mlflow_uri))
    check_artifacts(artifact_root(spec.artifacts.uri))
    check_storage_url(url)
    journal = journal_path(url)
    # a journal that does not exist yet holds no study to check
    if journal is None or journal.exists():
        storage = open_storage(url, spec.storage.heartbeat_interval, spec.storage.grace_period)
        from kubetune.components.search import member_space

        # the space the study records
        studied = member_space(spec, space) if spec.search.strategy == "pbt" else space
        if (
            check_resumable(
                spec.study_name,
                storage,
                spec.objective.directions,
                space_fingerprint(studied),
                data_fingerprint,
            )
            and spec.search.strategy == "pbt"
        ):
            import optuna

            from kubetune.components.search import check_resume

            study = optuna.load_study(study_name=spec.study_name, storage=storage)
            check_resume(
                spec.study_name, study, spec.search.pbt.population, spec.search.pbt.interval
            )
    return facts


def _shown(value: object) -> str:
    """A class label as a message names it: quoted text, cut to 40 characters."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


ONE_LINE = 380  # characters of a message that says several problems at once


def _together(problems: list[str]) -> str:
    """The first problem in full, then the others by their first clause: one line, still bounded."""
    if len(problems) == 1:
        return problems[0]
    heads = [problem.split(";")[0].split(", which")[0].split(" (")[0] for problem in problems[1:]]
    line = f"{problems[0]} -- and {len(heads)} more: " + "; ".join(heads)
    return line if len(line) <= ONE_LINE else line[: ONE_LINE - 1] + "…"
