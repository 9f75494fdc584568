"""The public surface of kubetune.components.spec: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .schema import (
    DataSpec as DataSpec,
    KubernetesSpec as KubernetesSpec,
    PackingSpec as PackingSpec,
    ParamSpec as ParamSpec,
    PrunerSpec as PrunerSpec,
    SelectSpec as SelectSpec,
    TuneSpec as TuneSpec,
    apply_overrides as apply_overrides,
    check_conditions as check_conditions,
    field_error_text as field_error_text,
    format_validation_error as format_validation_error,
    load_spec as load_spec,
    parse_spec as parse_spec,
    study_name_problem as study_name_problem,
)
