"""Names, labels and annotations of the objects, and the template's parameters they come from."""

from __future__ import annotations

import re

from providers.base import ProviderError, Target

REQUEST_LABEL = "cloudassist-request"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ROLE_NAME = "cloudassist-namespace-admin"
ROLE_BINDING_NAME = "cloudassist-namespace-admin"

# The template's defaults (templates/seed.py, dev-namespace), for parameters left out.
DEFAULT_CPU_LIMIT = 2
DEFAULT_MEMORY_LIMIT_GI = 4

_NAMESPACE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE_INVALID = re.compile(r"[^A-Za-z0-9_.-]+")
_LABEL_VALUE_MAX = 63


def label_value(value: str) -> str:
    """``value`` made into a valid label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends."""
    return _LABEL_VALUE_INVALID.sub("-", str(value))[:_LABEL_VALUE_MAX].strip("-_.")


def object_labels(target: Target) -> dict[str, str]:
    return {MANAGED_BY_LABEL: "cloudassist", **{key: label_value(value) for key, value in target.tags.items()}}


def object_annotations(target: Target) -> dict[str, str]:
    """The tags verbatim (labels may have had to drop characters)."""
    return dict(target.tags)


def namespace_name(target: Target) -> str:
    name = target.parameters.get("namespace")
    if not isinstance(name, str) or not _NAMESPACE_NAME.match(name):
        raise ProviderError(
            f"The namespace parameter must be a DNS label (lower-case letters, digits and hyphens, "
            f"starting with a letter, at most 63 characters); got {name!r}."
        )
    if name == "default" or name.startswith("kube-"):
        raise ProviderError(f"The namespace '{name}' is reserved by Kubernetes.")
    return name


def service_account_name(target: Target) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", target.short_id.lower()).strip("-") or "user"
    return f"cloudassist-{slug}"


def _positive_int(target: Target, key: str, default: int) -> int:
    value = target.parameters.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ProviderError(f"The {key} parameter must be a positive whole number; got {value!r}.")
    return value


def quota_limits(target: Target) -> tuple[int, int]:
    """(CPU cores, memory GiB) for the whole namespace."""
    return (
        _positive_int(target, "cpu_limit", DEFAULT_CPU_LIMIT),
        _positive_int(target, "memory_limit_gi", DEFAULT_MEMORY_LIMIT_GI),
    )
