"""scikit-learn's search API on kubetune: ``KubetuneSearchCV``, a drop-in for ``RandomizedSearchCV``.

It runs any estimator or Pipeline with kubetune's samplers (``auto`` included), locally through
joblib or as Kubernetes trial Jobs, and can record the search in MLflow as a kubetune study. See
``search_cv.py`` for how it stays conformant (scikit-learn's own ``evaluate_candidates`` does the
fits), ``search_space.py`` for the spaces it takes, ``image_imports.py`` for the check that the trial
image can import the estimator, and ``study_log.py`` for what MLflow receives. The top of the layers:
nothing in components imports it; ``import kubetune`` exposes it.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
