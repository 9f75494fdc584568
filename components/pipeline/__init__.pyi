"""Public surface of kubetune.components.pipeline (see __init__.py)."""

from .dry_run import first_trial_job as first_trial_job
from .preflight import check_cluster_stores as check_cluster_stores, identifier_notice as identifier_notice, preflight as preflight
from .prepare import PreparedData as PreparedData
from .retraining import versioned_spec as versioned_spec
