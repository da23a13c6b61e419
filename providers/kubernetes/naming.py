"""Names, labels and annotations of the objects, and the rules for the namespace's name."""

from __future__ import annotations

import re

from providers.base import Target, short_id

REQUEST_LABEL = "cloudassist-request"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "cloudassist"
ROLE_NAME = "cloudassist-namespace-admin"
ROLE_BINDING_NAME = "cloudassist-namespace-admin"

_NAMESPACE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE_INVALID = re.compile(r"[^A-Za-z0-9_.-]+")
_LABEL_VALUE_MAX = 63


def label_value(value: str) -> str:
    """``value`` made into a valid label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends."""
    return _LABEL_VALUE_INVALID.sub("-", str(value))[:_LABEL_VALUE_MAX].strip("-_.")


def request_tags(request_id: str | None) -> dict[str, str]:
    """The tags a plan can name before the request has an owner: managed-by, and the request's id
    when it is known (a dry run has none). ``Target.tags`` adds the owner when the plan is applied."""
    tags = {"managed-by": MANAGED_BY_VALUE}
    if request_id:
        tags[REQUEST_LABEL] = request_id
    return tags


def labels_of(tags: dict[str, str]) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY_VALUE, **{key: label_value(value) for key, value in tags.items()}}


def object_labels(target: Target) -> dict[str, str]:
    return labels_of(target.tags)


def object_annotations(target: Target) -> dict[str, str]:
    """The tags verbatim (labels may have had to drop characters)."""
    return dict(target.tags)


def namespace_problem(name: object) -> str | None:
    """Why ``name`` cannot be a request's namespace, or None."""
    if not isinstance(name, str) or not _NAMESPACE_NAME.match(name):
        return (
            "must be a DNS label (lower-case letters, digits and hyphens, starting with a letter, "
            f"at most 63 characters); got {name!r}"
        )
    if name == "default" or name.startswith("kube-"):
        return f"'{name}' is reserved by Kubernetes"
    return None


def service_account_name(request_id: str | None) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", short_id(request_id).lower()).strip("-") or "user"
    return f"cloudassist-{slug}"
