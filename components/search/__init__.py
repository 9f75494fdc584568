"""The search itself, with no I/O of its own: the space as Optuna distributions, sampler and pruner choice,
opening or resuming a study, the Pareto front and the rule that picks from it, and population-based
training's decisions (who copies whom, with which settings).
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
