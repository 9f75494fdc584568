"""kubetune's library, installed as ``kubetune.components``: everything a tuning job does, importable
without Prefect running. Subpackages by concern, in layers that import only downwards::

    pipeline  -> registry -> execution -> warmstart -> search -> tracking -> spec -> evaluation -> data -> models -> core

Each subpackage's ``__init__`` is its public surface; other packages import from it, never from its
modules. ``tests/unit/test_layering.py`` and ``make lint`` (import-linter) hold the layering.
"""
