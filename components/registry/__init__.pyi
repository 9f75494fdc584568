"""The public surface of kubetune.components.registry: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .champion import (
    champion_version as champion_version,
)
from .champion import (
    check_promotion_settings as check_promotion_settings,
)
from .champion import (
    move_alias as move_alias,
)
from .champion import (
    promotion_record as promotion_record,
)
from .champion import (
    record_decision as record_decision,
)
from .champion import (
    score_version as score_version,
)
from .legacy_modules import legacy_module_aliases as legacy_module_aliases
from .promotion import (
    decide_promotion as decide_promotion,
)
from .promotion import (
    retrain_study_name as retrain_study_name,
)
from .refit_reuse import WantedRefit as WantedRefit
from .refit_reuse import find_reusable_refit as find_reusable_refit
