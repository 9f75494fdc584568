"""Warm starts: past studies read back from the MLflow store (the meta-store), and the pure planning that
chooses which past configurations to run first (a greedy portfolio) or which box to narrow the space to.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
