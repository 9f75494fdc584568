"""The public surface of kubetune.components.tracking: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .pareto_plot import pareto_png as pareto_png
from .provenance import (
    all_package_versions as all_package_versions,
)
from .provenance import (
    git_commit as git_commit,
)
from .provenance import (
    package_versions as package_versions,
)
from .tracker import (
    PARENT_TAG as PARENT_TAG,
)
from .tracker import (
    Tracker as Tracker,
)
from .tracker import (
    param_value as param_value,
)
from .tracker import (
    resolve_tracking_uri as resolve_tracking_uri,
)
from .tracker import (
    run_url as run_url,
)
from .tracker import (
    safe_uri as safe_uri,
)
