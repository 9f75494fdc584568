"""Data: read a source (CSV, Parquet, local or S3), fingerprint it, infer the task, split off the held-out
test set, preprocess, describe it by meta-features; and the artifact store the prepared parts live in.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
