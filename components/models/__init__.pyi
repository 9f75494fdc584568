"""The public surface of kubetune.components.models: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .base import (
    BOTH as BOTH,
    CLASSIFICATION as CLASSIFICATION,
    NEURAL_NETWORK_EPOCHS as NEURAL_NETWORK_EPOCHS,
    Fidelity as Fidelity,
    ModelFamily as ModelFamily,
)
from .registry import (
    family_names as family_names,
    get_family as get_family,
    is_custom_family as is_custom_family,
    supports_checkpoints as supports_checkpoints,
    supports_fusion as supports_fusion,
)
