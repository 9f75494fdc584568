"""The public surface of kubetune.components.warmstart: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .box import describe_ranges as describe_ranges, narrowed_ranges as narrowed_ranges
from .metastore import (
    META_PREFIX as META_PREFIX,
    read_history as read_history,
    write_record as write_record,
)
from .planner import (
    CurrentStudy as CurrentStudy,
    PastStudy as PastStudy,
    WarmConfig as WarmConfig,
    WarmStartPlan as WarmStartPlan,
    cmaes_source_trials as cmaes_source_trials,
    plan_warm_start as plan_warm_start,
)
