"""Checks of the spec's Kubernetes settings that the API server would otherwise make -- too late.

Without them a typo in ``executor.kubernetes`` surfaces only when the first trial's Job is created,
after the study and its MLflow run exist: an invalid quantity (``memory: 16GB``) or namespace is a 422
then, and a misspelt toleration or affinity field (``opertor: Exists``) is worse -- the API server's
default field validation drops unknown fields with a warning, so the pods wait unschedulable on a GPU
node pool they do not tolerate and the study stops with "unschedulable", not with the typo.

Pure functions: each returns ``(sub_path, message)`` for the first problem, or None. The rules are the
API server's own (apimachinery's name and label validation, the core group's resource and toleration
rules); quantities are parsed by the official client's ``parse_quantity``, and toleration and affinity
mappings are walked against the official client's models, so their field names are Kubernetes' own.
"""

from __future__ import annotations

import difflib
import re
from decimal import Decimal
from typing import Any

Problem = tuple[str, str] | None

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_TOLERATION_OPERATORS = ("Exists", "Equal")
_TAINT_EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")
_PRIMITIVES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


def dns_label_problem(value: str) -> str | None:
    """A namespace: lower-case letters, digits and '-', at most 63 characters (RFC 1123 label)."""
    if len(value) > 63 or not _DNS_LABEL.match(value):
        return f"{value!r} is not a valid Kubernetes name (lower-case letters, digits and '-', at most 63 characters)"
    return None


def dns_subdomain_problem(value: str) -> str | None:
    """Secret, ServiceAccount and PriorityClass names: RFC 1123 subdomains, at most 253 characters."""
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        return f"{value!r} is not a valid Kubernetes name (lower-case letters, digits, '-' and '.', at most 253 characters)"
    return None


def qualified_name_problem(value: str) -> str | None:
    """A label key or a resource name: an optional DNS-subdomain prefix and '/', then a name of at most 63."""
    prefix, _, name = value.rpartition("/")
    if (prefix and dns_subdomain_problem(prefix)) or len(name) > 63 or not _NAME_PART.match(name):
        return f"{value!r} is not a valid Kubernetes key (an optional domain and '/', then letters, digits, '-', '_' or '.')"
    return None


def node_selector_problem(selector: dict[str, str]) -> Problem:
    for key, value in selector.items():
        problem = qualified_name_problem(key)
        if problem:
            return key, problem
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            return (
                key,
                f"{value!r} is not a valid label value (at most 63 letters, digits, '-', '_' or '.')",
            )
    return None


def env_name_problem(name: str) -> str | None:
    if not _ENV_NAME.match(name):
        return f"{name!r} is not a valid environment variable name (letters, digits, '_', '-' and '.'; not starting with a digit)"
    return None


def secret_ref_problem(name: str, key: str) -> Problem:
    """A secretKeyRef's Secret name and key, as the API server checks them."""
    problem = dns_subdomain_problem(name)
    if problem:
        return "name", problem
    if len(key) > 253 or not _SECRET_KEY.match(key):
        return "key", f"{key!r} is not a valid Secret key (letters, digits, '-', '_' and '.')"
    return None


def _is_extended(resource: str) -> bool:
    """GPUs and other device-plugin resources: cannot be overcommitted, so only whole units, limit = request."""
    return "/" in resource and not resource.startswith("kubernetes.io/")


def resources_problem(resources: dict[str, dict[str, str | int | float]]) -> Problem:
    """Quantities that parse, names the API server knows, requests not above limits, whole GPUs."""
    from kubernetes.utils import parse_quantity

    parsed: dict[str, dict[str, Decimal]] = {}
    for kind, amounts in resources.items():
        for resource, amount in amounts.items():
            path = f"{kind}.{resource}"
            if (
                resource not in _STANDARD_RESOURCES
                and not resource.startswith("hugepages-")
                and "/" not in resource
            ):
                return (
                    path,
                    f"unknown resource {resource!r} (cpu, memory, ephemeral-storage, or a device such as nvidia.com/gpu)",
                )
            name_problem = qualified_name_problem(resource) if "/" in resource else None
            if name_problem:
                return path, name_problem
            try:
                quantity = parse_quantity(amount)
            except (ValueError, TypeError):
                return (
                    path,
                    f"{amount!r} is not a Kubernetes quantity (for example 2, 500m, 8Gi, 512Mi)",
                )
            if quantity < 0:
                return path, f"{amount!r} is negative"
            if _is_extended(resource) and quantity != quantity.to_integral_value():
                return path, f"{amount!r}: a device resource is counted in whole units"
            parsed.setdefault(kind, {})[resource] = quantity
    requests, limits = parsed.get("requests", {}), parsed.get("limits", {})
    for resource, requested in requests.items():
        if resource in limits and requested > limits[resource]:
            return (
                f"requests.{resource}",
                f"{resources['requests'][resource]!r} is more than the limit {resources['limits'][resource]!r}",
            )
        if _is_extended(resource) and limits.get(resource) != requested:
            return (
                f"limits.{resource}",
                f"a device resource needs a limit equal to its request ({resources['requests'][resource]!r}); set it under limits",
            )
    return None


def model_problem(value: Any, type_name: str, path: str = "") -> Problem:
    """The first field of ``value`` that the official client's model ``type_name`` (``V1Toleration``,
    ``list[V1Toleration]``, ``V1Affinity``) does not have, or whose value has the wrong shape."""
    import kubernetes.client

    if type_name.startswith("list["):
        if not isinstance(value, list):
            return path, "should be a list"
        for index, item in enumerate(value):
            problem = model_problem(
                item, type_name[5:-1], f"{path}.{index}" if path else str(index)
            )
            if problem:
                return problem
        return None
    if type_name.startswith("dict("):
        if not isinstance(value, dict):
            return path, "should be a mapping"
        inner = type_name[5:-1].split(", ", 1)[1]
        for key, item in value.items():
            problem = model_problem(item, inner, f"{path}.{key}")
            if problem:
                return problem
        return None
    if type_name in _PRIMITIVES:
        if not isinstance(value, _PRIMITIVES[type_name]) or (
            type_name != "bool" and isinstance(value, bool)
        ):
            return (
                path,
                f"should be {'a string' if type_name == 'str' else 'a number' if type_name in ('int', 'float') else 'true or false'}, got {value!r}",
            )
        return None
    model = getattr(kubernetes.client, type_name, None)
    if model is None:  # "object" and other free-form types
        return None
    if not isinstance(value, dict):
        return path, "should be a mapping"
    attribute_of = {json_name: attribute for attribute, json_name in model.attribute_map.items()}
    for key, item in value.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in attribute_of:
            close = difflib.get_close_matches(str(key), list(attribute_of), n=1)
            return where, "unknown field" + (
                f" (did you mean '{close[0]}'?)"
                if close
                else f" ({type_name[2:]} takes: {', '.join(attribute_of)})"
            )
        problem = model_problem(item, model.openapi_types[attribute_of[key]], where)
        if problem:
            return problem
    return None


def tolerations_problem(tolerations: list[dict[str, Any]]) -> Problem:
    """Field names and types per the client's V1Toleration, then the API server's rules on their values."""
    problem = model_problem(tolerations, "list[V1Toleration]")
    if problem:
        return problem
    for index, toleration in enumerate(tolerations):
        operator, effect = toleration.get("operator", "Equal"), toleration.get("effect", "")
        if operator not in _TOLERATION_OPERATORS:
            return f"{index}.operator", f"{operator!r} is not Exists or Equal"
        if effect not in _TAINT_EFFECTS:
            return f"{index}.effect", f"{effect!r} is not NoSchedule, PreferNoSchedule or NoExecute"
        if operator == "Exists" and toleration.get("value"):
            return f"{index}.value", "a toleration with operator Exists takes no value"
        if not toleration.get("key") and operator != "Exists":
            return f"{index}.operator", "a toleration without a key must use operator Exists"
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            return (
                f"{index}.tolerationSeconds",
                "only a NoExecute toleration takes tolerationSeconds",
            )
    return None
