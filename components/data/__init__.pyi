"""The public surface of kubetune.components.data: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .artifacts import (
    ArtifactError as ArtifactError,
)
from .artifacts import (
    artifact_root as artifact_root,
)
from .artifacts import (
    check_access as check_access,
)
from .artifacts import (
    delete as delete,
)
from .artifacts import (
    join as join,
)
from .artifacts import (
    object_version as object_version,
)
from .artifacts import (
    put_file as put_file,
)
from .artifacts import (
    read_bytes as read_bytes,
)
from .artifacts import (
    write_bytes as write_bytes,
)
from .frames import (
    ROW_ID as ROW_ID,
)
from .frames import (
    build_preprocessor as build_preprocessor,
)
from .frames import (
    features_and_target as features_and_target,
)
from .frames import (
    fingerprint as fingerprint,
)
from .frames import (
    identifier_columns as identifier_columns,
)
from .frames import (
    infer_task as infer_task,
)
from .frames import (
    read_data as read_data,
)
from .frames import (
    read_frame as read_frame,
)
from .frames import (
    split_holdout as split_holdout,
)
from .frames import (
    unencodable_dtype as unencodable_dtype,
)
from .frames import (
    write_frame as write_frame,
)
from .metafeatures import LOG_SCALED as LOG_SCALED
from .metafeatures import compute_meta_features as compute_meta_features
from .sources import PARQUET_SUFFIXES as PARQUET_SUFFIXES
from .sources import source_format as source_format
