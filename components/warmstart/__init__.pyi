"""The public surface of kubetune.components.warmstart: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .box import describe_ranges as describe_ranges
from .box import narrowed_ranges as narrowed_ranges
from .metastore import (
    META_PREFIX as META_PREFIX,
)
from .metastore import (
    read_history as read_history,
)
from .metastore import (
    write_record as write_record,
)
from .planner import (
    CurrentStudy as CurrentStudy,
)
from .planner import (
    PastStudy as PastStudy,
)
from .planner import (
    WarmConfig as WarmConfig,
)
from .planner import (
    WarmStartPlan as WarmStartPlan,
)
from .planner import (
    cmaes_source_trials as cmaes_source_trials,
)
from .planner import (
    plan_warm_start as plan_warm_start,
)
