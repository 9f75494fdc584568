"""The tuning spec: pydantic models of the YAML a user writes, how it is read (size, encoding, nesting and
alias limits, duplicate keys), and the checks of its Kubernetes settings the API server would otherwise
make too late. Everything here is checked without data, a cluster or a tracking server.
"""

import lazy_loader

# The names below are this package's public surface, listed in __init__.pyi (which type checkers read);
# each module is imported on first use, so importing the package costs nothing it does not need.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
