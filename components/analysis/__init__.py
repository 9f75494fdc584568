"""What a finished study means: finalists re-evaluated on repeated cross-validation, the winner chosen by a
stated rule, significance tests valid for overlapping training sets, bootstrap intervals on the held-out
score, hyperparameter importances, plots and the study report.

Pure functions over trial records and fitted models' predictions; the pipeline's analysis step runs the
fits (through the executors, like any trial) and records what these return.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
