"""MLflow: one parent run per study, a nested run per trial, a refit run with the model; and what makes a
run reproducible (git commit, package versions, the model's pip requirements) or readable (plots).
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
