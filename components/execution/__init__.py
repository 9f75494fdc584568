"""Running trials: the study controller (ask, hand to an executor, tell), the executors (local worker
processes, Kubernetes Jobs) behind one base class, the shared study storage, heartbeats, re-queues of
trials lost to infrastructure, the budget lock, and what a worker or a trial pod runs.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
