"""The public surface of kubetune.components.pipeline: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .dry_run import first_trial_job as first_trial_job
from .preflight import check_cluster_stores as check_cluster_stores, identifier_notice as identifier_notice, preflight as preflight
from .prepare import PreparedData as PreparedData
from .retraining import versioned_spec as versioned_spec
from . import retraining as retraining, tuning as tuning
