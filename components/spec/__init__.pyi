"""Public surface of kubetune.components.spec (see __init__.py)."""

from .schema import DataSpec as DataSpec, KubernetesSpec as KubernetesSpec, ParamSpec as ParamSpec, PrunerSpec as PrunerSpec, SelectSpec as SelectSpec, TuneSpec as TuneSpec, check_conditions as check_conditions, load_spec as load_spec, parse_spec as parse_spec
