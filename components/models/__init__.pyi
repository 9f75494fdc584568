"""The public surface of kubetune.components.models: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .base import (
    BOTH as BOTH,
)
from .base import (
    CLASSIFICATION as CLASSIFICATION,
)
from .base import (
    Fidelity as Fidelity,
)
from .base import (
    ModelFamily as ModelFamily,
)
from .registry import (
    family_names as family_names,
)
from .registry import (
    get_family as get_family,
)
from .registry import (
    is_custom_family as is_custom_family,
)
from .registry import (
    supports_checkpoints as supports_checkpoints,
)
