"""The public surface of kubetune.components.evaluation: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .cross_validation import (
    CVResult as CVResult,
    cross_validate as cross_validate,
    fit_full as fit_full,
    make_pipeline as make_pipeline,
    score as score,
    score_holdout as score_holdout,
    splits as splits,
)
from .fused_cross_validation import cross_validate_fused as cross_validate_fused
from .metrics import (
    METRICS as METRICS,
    build_scorer as build_scorer,
    default_positive_class as default_positive_class,
    metric_fits_task as metric_fits_task,
    natural_direction as natural_direction,
    scores_a_positive_class as scores_a_positive_class,
    to_natural as to_natural,
)
from .refit import refit_and_evaluate as refit_and_evaluate
