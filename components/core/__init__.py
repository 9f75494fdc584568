"""The bottom layer: what every other package speaks -- the trial messages, the user-facing errors,
credential redaction, retries of transient storage errors, deferred Ctrl-C, the ``kubetune.*`` names
written to Optuna and MLflow, and the one module that touches Optuna's private API.

Imports nothing else of kubetune.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
