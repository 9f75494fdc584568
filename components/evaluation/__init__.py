"""Scoring a configuration: the metrics a spec may name, cross-validation of one configuration (with
learning curves for families that train in steps), and the single refit evaluated once on the held-out
test set.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
