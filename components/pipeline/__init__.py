"""The steps of a tuning job as plain functions, which ``kubetune.flows`` runs as Prefect tasks: preflight
checks, data preparation, the study's parent run, the warm-start plan, one search orchestration for
sampled search and population-based training, refit and registration, retraining and the dry run.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
