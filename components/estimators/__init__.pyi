"""The public surface of kubetune.components.estimators: what the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .image_imports import foreign_references as foreign_references, image_modules as image_modules
from .search_cv import KubetuneSearchCV as KubetuneSearchCV
from .search_space import SearchSettingError as SearchSettingError, to_space as to_space
