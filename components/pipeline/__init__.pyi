"""The public surface of kubetune.components.pipeline: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .data_preparation import PreparedData as PreparedData
from .dry_run import first_trial_job as first_trial_job
from .endpoints import check_mlflow as check_mlflow
from .preflight_checks import (
    check_cluster_stores as check_cluster_stores,
    data_notices as data_notices,
    identifier_notice as identifier_notice,
    preflight as preflight,
)
from .refit_step import RefitSummary as RefitSummary, refit_and_register as refit_and_register
from .retraining import challenge_champion as challenge_champion, versioned_spec as versioned_spec
from .search_run import local_workers as local_workers, run_search as run_search
from .search_strategy import (
    SearchOutcome as SearchOutcome,
    make_request_factory as make_request_factory,
)
from .study_report import (
    StudyReport as StudyReport,
    report_finished_study as report_finished_study,
    report_study as report_study,
)
from .study_run import (
    prepare as prepare,
    resolved_space as resolved_space,
    start_study_run as start_study_run,
)
from .warm_start import warm_start_plan as warm_start_plan
