"""Data: read a source, fingerprint it, infer the task, split off the held-out test set, preprocess.

The held-out split happens once, before any trial exists: trials are handed a file that holds only the
training part, so no trial can see a test row. Preprocessing is returned unfitted, inside the model's
Pipeline, so imputation, scaling and one-hot encoding are fitted inside each CV fold (no leakage).
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from kubetune.components.core import SpecError, replaced_atomically
from kubetune.components.data.artifacts import ArtifactError, read_s3_bytes
from kubetune.components.data.sources import source_format

ROW_ID = "kubetune_row_id"  # index name carried into every prepared file, so splits can be audited
SKLEARN_DATASETS = ("breast_cancer", "diabetes", "digits", "iris", "wine")


def read_source(
    source: str,
    missing_values: list[str] | None = None,
    separator: str = ",",
    decimal: str = ".",
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read ``sklearn:<name>``, ``s3://bucket/key.(csv|parquet)`` or a local CSV/Parquet path.
    ``missing_values``: the CSV cells read as missing instead of pandas' list, so a category named
    "NA" (North America) or "None" stays a category when the user says so. ``separator`` and ``decimal``:
    a CSV as a European Excel saves it (``;`` and ``3,14``); ``encoding``: one not saved as UTF-8."""
    csv = _CsvDialect(missing_values, separator, decimal, encoding)
    if source.startswith("sklearn:"):
        frame = _read_sklearn(source.removeprefix("sklearn:"))
    elif source.startswith("s3://"):
        try:
            frame = _parse(io.BytesIO(read_s3_bytes(source)), source, csv)
        except ArtifactError as error:
            raise SpecError(f"data.source: {error}") from None
    else:
        path = Path(source)
        if not path.is_file():
            where = (
                ""
                if path.is_absolute()
                else f" (a relative path is read from the working directory, {Path.cwd()})"
            )
            raise SpecError(f"data.source: no such file '{source}'{where}")
        frame = _parse(path, source, csv)
    frame.index = pd.RangeIndex(len(frame), name=ROW_ID)
    return frame


class DataSettings(Protocol):
    """What reading needs of the spec's ``data`` section (kubetune.components.spec.DataSpec has it); a
    protocol, so this layer does not import the spec's."""

    @property
    def source(self) -> str: ...
    @property
    def missing_values(self) -> list[str] | None: ...
    @property
    def separator(self) -> str: ...
    @property
    def decimal(self) -> str: ...
    @property
    def encoding(self) -> str: ...


def read_data(data: DataSettings) -> pd.DataFrame:
    """The spec's ``data.source`` read as its ``data`` section says: the one place every step reads it,
    so a reading setting reaches preflight, preparation, the dry run and retraining alike."""
    return read_source(
        data.source, data.missing_values, data.separator, data.decimal, data.encoding
    )


def _read_sklearn(name: str) -> pd.DataFrame:
    import sklearn.datasets

    if name not in SKLEARN_DATASETS:
        raise SpecError(
            f"data.source: unknown bundled dataset '{name}' (known: {', '.join(SKLEARN_DATASETS)})"
        )
    bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
    return bunch.frame.copy()


@dataclass(frozen=True)
class _CsvDialect:
    missing_values: list[str] | None
    separator: str
    decimal: str
    encoding: str


_SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "tabs", "|": "'|'"}  # as the message says them
_SEPARATOR_YAML = {",": '","', ";": '";"', "\t": '"\\t"', "|": '"|"'}  # as the spec writes them


def _parse(handle: io.BytesIO | Path, source: str, csv: _CsvDialect) -> pd.DataFrame:
    try:
        if source_format(source) == "parquet":
            return pd.read_parquet(handle)
        missing = (
            {}
            if csv.missing_values is None
            else {"keep_default_na": False, "na_values": csv.missing_values}
        )
        frame = pd.read_csv(
            handle, sep=csv.separator, decimal=csv.decimal, encoding=csv.encoding, **missing
        )
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except UnicodeDecodeError as error:
        raise SpecError(
            f"data.source: '{source}' is not {csv.encoding} text (it holds the byte {error.object[error.start]:#x}); "
            f"set data.encoding, for example cp1252 for a file Excel saved on Windows"
        ) from None
    except Exception as error:  # noqa: BLE001 - any parser error means the same thing to the user
        raise SpecError(
            f"data.source: cannot parse '{source}': {type(error).__name__}: {error}"
        ) from None
    _check_separator(frame, source, csv.separator)
    _check_unique_header(handle, source, csv)
    if csv.decimal == "." and csv.separator != ",":
        _check_decimal_commas(frame, source)
    return frame


def _check_unique_header(handle: io.BytesIO | Path, source: str, csv: _CsvDialect) -> None:
    """pandas renames a repeated column name ('target' again becomes 'target.1'): a second target column
    then went in as a feature, and CV and test scores read 1.0000."""
    if isinstance(handle, io.BytesIO):
        handle.seek(0)
    header = (
        pd.read_csv(
            handle, sep=csv.separator, encoding=csv.encoding, header=None, nrows=1, dtype=str
        )
        .iloc[0]
        .tolist()
    )
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise SpecError(
                f"data.source: the column name '{name}' appears twice in the header of '{source}'; rename or remove one"
            )
        seen.add(name)


_DECIMAL_COMMA = r"^[+-]?\d+,\d+$"


def _check_decimal_commas(frame: pd.DataFrame, source: str) -> None:
    """Numbers written 3,14 (a ';'-separated file from a European Excel) read as text, and text is
    one-hot encoded: a measurement would become hundreds of categories without a word said."""
    for name in frame.columns:
        column = frame[name]
        if not (column.dtype == object or pd.api.types.is_string_dtype(column.dtype)):
            continue
        values = column.dropna().astype(str).head(1000)
        if (
            len(values)
            and values.str.match(_DECIMAL_COMMA).all()
            and values.str.contains(",").any()
        ):
            raise SpecError(
                f"data.source: column '{name}' of '{source}' holds numbers written with a decimal comma "
                f"('{values.iloc[0]}'); set data.decimal: \",\""
            )


def _check_separator(frame: pd.DataFrame, source: str, separator: str) -> None:
    """A file read as one column whose header holds another separator was saved with that one: without
    this its header reached the user as "column 'price' not found (columns: a;b;price)"."""
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    found = next(
        (other for other in _SEPARATOR_NAMES if other != separator and other in header), None
    )
    if found:
        shown = (
            header.replace("\t", " ")
            if len(header) <= 40
            else header[:40].replace("\t", " ") + "..."
        )
        decimal = ' (and data.decimal: "," if its numbers read 3,14)' if found == ";" else ""
        raise SpecError(
            f"data.source: '{source}' reads as one column '{shown}': its fields are separated by "
            f"{_SEPARATOR_NAMES[found]}, not {_SEPARATOR_NAMES[separator]}; set data.separator: {_SEPARATOR_YAML[found]}{decimal}"
        )


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 over column names, dtypes and row hashes: equal data gives equal fingerprints."""
    digest = hashlib.sha256()
    digest.update("|".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()).encode())
    digest.update(pd.util.hash_pandas_object(_hashable(frame), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def nested_columns(frame: pd.DataFrame) -> list[str]:
    """Columns whose cells are lists, arrays or mappings (Parquet list, struct and map columns)."""
    return [
        str(name)
        for name in frame.columns
        if frame[name].dtype == object
        and frame[name]
        .map(lambda cell: isinstance(cell, (list, dict, np.ndarray, set, tuple)))
        .any()
    ]


def _hashable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with nested cells as their text, so that a row can be hashed (pandas hashes scalars)."""
    nested = nested_columns(frame)
    if not nested:
        return frame
    return frame.assign(**{name: frame[name].map(repr) for name in nested})


def infer_task(target: pd.Series) -> str:
    """Classification for non-numeric, boolean or few-valued integer targets; regression otherwise."""
    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return "classification"
    values = target.dropna()
    if pd.api.types.is_integer_dtype(values) or np.all(np.mod(values, 1) == 0):
        if values.nunique() <= max(2, min(20, int(0.05 * len(values)) + 2)):
            return "classification"
    return "regression"


@dataclass(frozen=True)
class HeldOutSplit:
    train: pd.DataFrame
    test: pd.DataFrame


def split_holdout(
    frame: pd.DataFrame,
    target: str,
    task: str,
    test_size: float,
    seed: int | None,
    time_ordered: bool,
) -> HeldOutSplit:
    """Split off the held-out test rows: the last rows for time series, else a (stratified) shuffle.

    Outside time series the training rows keep the split's seeded shuffle instead of the file's order.
    An estimator that breaks ties by row order learns the file's order otherwise: k-NN picks among equally
    near rows by position, so on a CSV sorted by its target with repeated feature values (titanic's
    class/age/sex) every neighbour of a row came from one class, and the study's best CV log loss was 11.6
    where the same model on shuffled rows scores 0.49. The trials' folds, the refit and the served model
    all fit in this order.
    """
    if time_ordered:
        cut = len(frame) - max(1, int(round(len(frame) * test_size)))
        return HeldOutSplit(frame.iloc[:cut], frame.iloc[cut:])
    from sklearn.model_selection import train_test_split

    stratify = frame[target] if task == "classification" else None
    train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    return HeldOutSplit(train, test.sort_index())


def features_and_target(
    frame: pd.DataFrame, target: str, drop: list[str]
) -> tuple[pd.DataFrame, pd.Series]:
    return frame.drop(columns=[target, *drop]), frame[target]


def build_preprocessor() -> object:
    """Impute + scale numbers, booleans as 0/1, impute + one-hot the rest; unfitted, so it is fitted per fold.

    Booleans get their own branch because SimpleImputer refuses the bool dtype, and pandas reads a CSV
    column of True/False as bool: in the categorical branch every trial failed on it. They are cast to
    0/1 floats first (pandas' own ``astype``, which turns the nullable "boolean" dtype's missing values
    into NaN for the imputer). Categories are read as pandas' ``str`` first: a Parquet column of the
    nullable "string" dtype marks its gaps pd.NA, on which SimpleImputer fails ("boolean value of NA is
    ambiguous"); as ``str`` every missing cell is NaN, whatever the column's dtype (category, object,
    string). Both casts are pandas' own functions, so a served model needs no kubetune code to unpickle.
    """
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
    )
    as_numbers = FunctionTransformer(
        pd.DataFrame.astype, kw_args={"dtype": "float64"}, feature_names_out="one-to-one"
    )
    boolean = make_pipeline(
        as_numbers, SimpleImputer(strategy="most_frequent", keep_empty_features=True)
    )
    as_text = FunctionTransformer(
        pd.DataFrame.astype, kw_args={"dtype": "str"}, feature_names_out="one-to-one"
    )
    categorical = make_pipeline(
        as_text,
        SimpleImputer(strategy="most_frequent", keep_empty_features=True),
        OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=64, sparse_output=False),
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, make_column_selector(dtype_include=np.number)),
            ("boolean", boolean, make_column_selector(dtype_include=bool)),
            ("categorical", categorical, make_column_selector(dtype_exclude=[np.number, bool])),
        ],
        verbose_feature_names_out=False,
    )


def unencodable_dtype(dtype: object) -> bool:
    """Dates, durations, periods, intervals and complex numbers: no branch of the preprocessor encodes
    them (SimpleImputer refuses them), so a feature column of one is refused before any trial runs."""
    from pandas.api import types

    return bool(
        types.is_datetime64_any_dtype(dtype)
        or types.is_timedelta64_dtype(dtype)
        or types.is_complex_dtype(dtype)
        or isinstance(dtype, (pd.PeriodDtype, pd.IntervalDtype))
    )


# below this, a column of distinct values is as likely a real feature of a tiny table
ID_MIN_ROWS = 20


def identifier_columns(features: pd.DataFrame) -> list[str]:
    """Feature columns that name rows rather than describe them: text with a different value in every
    row (names, keys), or whole numbers counting the rows (0..n-1 or 1..n, the index pandas' ``to_csv``
    writes as "Unnamed: 0"). One-hot encoding a name gives the model a column per row that no new row
    shares, and a row counter carries the file's order; either way the served model then demands the
    column of every caller (mtcars' car names were a required input of its registered model)."""
    n_rows = len(features)
    if n_rows < ID_MIN_ROWS:
        return []
    found = []
    for name in features.columns:
        column = features[name]
        if column.isna().any() or column.nunique() != n_rows:
            continue
        if pd.api.types.is_integer_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
            column.dtype
        ):
            counts_rows = int(column.max()) - int(column.min()) == n_rows - 1 and int(
                column.min()
            ) in (0, 1)
            # pandas names an unnamed first column "Unnamed: 0": a saved index, with gaps where rows were dropped
            saved_index = str(name).startswith("Unnamed:") and column.is_monotonic_increasing
            if counts_rows or saved_index:
                found.append(str(name))
        elif not pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
            column.dtype
        ):
            found.append(str(name))
    return found


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One 64-bit hash per row of ``columns`` (values only, not the row's position): what tells whether
    a row of a later data version is one a model was trained on."""
    return pd.util.hash_pandas_object(_hashable(frame[columns]), index=False).to_numpy(
        dtype=np.uint64
    )


def encode_hashes(hashes: np.ndarray) -> str:
    return base64.b64encode(np.asarray(hashes, dtype="<u8").tobytes()).decode("ascii")


def decode_hashes(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u8")


# text columns whose cells are at least this share numbers are taken for numbers
NUMERIC_SHARE = 0.8


@dataclass(frozen=True)
class NumericText:
    """A column read as text although most of its cells are numbers: the cells that are not."""

    column: str
    n_cells: int
    n_not_numbers: int
    examples: tuple[str, ...]


def numeric_text_columns(features: pd.DataFrame) -> list[NumericText]:
    """Text columns that hold numbers with a few cells that are not (``unknown``, ``-``, ``42 years``,
    ``1,234.50``, ``?``). pandas reads the whole column as text, so it is one-hot encoded: every value
    becomes its own category, and the registered model then requires strings for a number."""
    found = []
    for name in features.columns:
        column = features[name]
        if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
            continue
        cells = column.dropna().astype(str).str.strip()
        cells = cells[cells != ""]
        if cells.empty:
            continue
        numbers = pd.to_numeric(cells, errors="coerce")
        if numbers.notna().all():  # every cell a number (a column of codes kept as text on purpose)
            continue
        if numbers.notna().mean() >= NUMERIC_SHARE:
            bad = cells[numbers.isna()]
            examples = tuple(str(v) for v in bad.value_counts().index[:3])
            found.append(NumericText(str(name), len(cells), len(bad), examples))
    return found


def write_frame(frame: pd.DataFrame, path: Path) -> Path:
    """Prepared data is Parquet: typed, compact, and it keeps the row ids (the index).

    Replaced atomically: a second controller of the same study prepares the same files in the same
    folder while the first one's trials read them."""
    with replaced_atomically(path) as partial:
        frame.to_parquet(partial)
    return path


def read_frame(uri: str) -> pd.DataFrame:
    if uri.startswith("s3://"):
        return pd.read_parquet(io.BytesIO(read_s3_bytes(uri)))
    return pd.read_parquet(uri)
