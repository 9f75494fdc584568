"""The public surface of kubetune.components.data: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .artifacts import (
    ArtifactError as ArtifactError,
    artifact_root as artifact_root,
    check_access as check_access,
    delete as delete,
    join as join,
    object_version as object_version,
    put_file as put_file,
    read_bytes as read_bytes,
    write_bytes as write_bytes,
)
from .frames import (
    ROW_ID as ROW_ID,
    NumericText as NumericText,
    build_preprocessor as build_preprocessor,
    decode_hashes as decode_hashes,
    encode_hashes as encode_hashes,
    features_and_target as features_and_target,
    fingerprint as fingerprint,
    identifier_columns as identifier_columns,
    infer_task as infer_task,
    nested_columns as nested_columns,
    numeric_text_columns as numeric_text_columns,
    read_data as read_data,
    read_frame as read_frame,
    row_hashes as row_hashes,
    split_holdout as split_holdout,
    unencodable_dtype as unencodable_dtype,
    write_frame as write_frame,
)
from .metafeatures import LOG_SCALED as LOG_SCALED, compute_meta_features as compute_meta_features
from .sources import PARQUET_SUFFIXES as PARQUET_SUFFIXES, source_format as source_format
