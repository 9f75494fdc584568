"""The public surface of kubetune.components.spec: what other packages, the flows and users import.

lazy_loader reads this file at import time (see __init__.py); type checkers read it as the package's stub.
"""

from .schema import (
    DataSpec as DataSpec,
)
from .schema import (
    KubernetesSpec as KubernetesSpec,
)
from .schema import (
    ParamSpec as ParamSpec,
)
from .schema import (
    PrunerSpec as PrunerSpec,
)
from .schema import (
    SelectSpec as SelectSpec,
)
from .schema import (
    TuneSpec as TuneSpec,
)
from .schema import (
    check_conditions as check_conditions,
)
from .schema import (
    load_spec as load_spec,
)
from .schema import (
    parse_spec as parse_spec,
)
