"""The public surface of kubetune.components.registry: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .champion import (
    champion_version as champion_version,
    check_promotion_settings as check_promotion_settings,
    move_alias as move_alias,
    promotion_record as promotion_record,
    record_decision as record_decision,
    score_version as score_version,
    training_rows as training_rows,
)
from .legacy_modules import legacy_module_aliases as legacy_module_aliases
from .promotion import (
    decide_promotion as decide_promotion,
    retrain_study_name as retrain_study_name,
)
from .refit_reuse import (
    WantedRefit as WantedRefit,
    find_reusable_refit as find_reusable_refit,
    settle_interrupted_refits as settle_interrupted_refits,
)
