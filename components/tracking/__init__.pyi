"""The public surface of kubetune.components.tracking: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .local_store import (
    database_file_problem as database_file_problem,
    is_in_memory as is_in_memory,
    open_client as open_client,
    sqlite_file as sqlite_file,
)
from .pareto_plot import pareto_png as pareto_png
from .provenance import (
    all_package_versions as all_package_versions,
    git_commit as git_commit,
    package_versions as package_versions,
)
from .tracker import (
    PARENT_TAG as PARENT_TAG,
    Tracker as Tracker,
    fluent_uris as fluent_uris,
    mlflow_uris_put_back as mlflow_uris_put_back,
    param_value as param_value,
    resolve_tracking_uri as resolve_tracking_uri,
    run_url as run_url,
    safe_uri as safe_uri,
)
