"""Public surface of kubetune.components.models (see __init__.py)."""

from .base import Fidelity as Fidelity
from .registry import family_names as family_names, family_tasks as family_tasks, get_family as get_family, is_custom_family as is_custom_family, supports_checkpoints as supports_checkpoints
