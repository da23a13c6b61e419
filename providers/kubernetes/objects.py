"""The objects a ``kubernetes`` template may render: the supported kinds, the document schema, the
checks made when a template is saved, and what each object says in words (and CPU, for pricing)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import kubernetes_validate
from django.core.exceptions import ValidationError
from kubernetes.utils.quantity import parse_quantity

from providers.documents import path_text
from providers.kubernetes.naming import namespace_problem

#: The Kubernetes version whose OpenAPI schemas (shipped with kubernetes-validate, offline) every
#: object is checked against, strictly (unknown fields refused), when a template is saved.
VALIDATE_VERSION = "1.30.0"


@dataclass(frozen=True)
class Kind:
    api_version: str
    plural: str  # the URL segment
    api: str  # the attribute of the client Session holding its typed API (core, rbac, networking)
    snake: str  # the typed API's method suffix: create_namespaced_<snake>, read_namespaced_<snake>...


NAMESPACE = Kind("v1", "namespaces", "core", "namespace")

#: The namespaced kinds a template may render (besides its one Namespace), in no particular order.
KINDS: dict[str, Kind] = {
    "ResourceQuota": Kind("v1", "resourcequotas", "core", "resource_quota"),
    "LimitRange": Kind("v1", "limitranges", "core", "limit_range"),
    "ServiceAccount": Kind("v1", "serviceaccounts", "core", "service_account"),
    "ConfigMap": Kind("v1", "configmaps", "core", "config_map"),
    "Role": Kind("rbac.authorization.k8s.io/v1", "roles", "rbac", "role"),
    "RoleBinding": Kind("rbac.authorization.k8s.io/v1", "rolebindings", "rbac", "role_binding"),
    "NetworkPolicy": Kind("networking.k8s.io/v1", "networkpolicies", "networking", "network_policy"),
}
SUPPORTED = ["Namespace", *KINDS]

#: Cluster-scoped kinds named in their refusal (anything else unknown is "not supported").
CLUSTER_SCOPED = {
    "APIService",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
}

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": (
        "The Kubernetes objects to apply into the request's namespace: exactly one Namespace (it names "
        "the namespace) and namespaced objects of the supported kinds."
    ),
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {
                "type": "string",
                "enum": SUPPORTED,
                "errorMessage": f"not supported by kubernetes (supported kinds: {', '.join(SUPPORTED)})",
            },
            "metadata": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "namespace": {"type": "string"},
                    "labels": _STRING_MAP,
                    "annotations": _STRING_MAP,
                },
            },
        },
        # The rest (spec, data, rules, roleRef, subjects...) is checked by kubernetes-validate.
        "additionalProperties": True,
    },
}


def kind_problem(kind: Any) -> str | None:
    if kind in SUPPORTED:
        return None
    if kind in CLUSTER_SCOPED:
        return (
            f"{kind} is cluster-scoped: not supported by kubernetes (a template creates its Namespace and "
            "objects inside it, never cluster-wide ones)"
        )
    return f"not supported by kubernetes: {kind!r} (supported kinds: {', '.join(SUPPORTED)})"


def api_version_of(kind: str) -> str:
    return NAMESPACE.api_version if kind == "Namespace" else KINDS[kind].api_version


def check_kinds(document: Any) -> None:
    """Before the schema: every item's kind named precisely (cluster-scoped kinds, unknown ones)."""
    if not isinstance(document, list):
        return
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(document):
        if isinstance(item, dict) and isinstance(item.get("kind"), str):
            problem = kind_problem(item["kind"])
            if problem:
                errors[path_text([index, "kind"])] = [problem]
    if errors:
        raise ValidationError(errors)


def _structure_errors(objects: list[dict[str, Any]]) -> tuple[str, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}

    def fail(path: list, message: str) -> None:
        errors.setdefault(path_text(path), []).append(message)

    namespaces = [index for index, obj in enumerate(objects) if obj["kind"] == "Namespace"]
    if not namespaces:
        raise ValidationError(
            {"body": ["A kubernetes template renders exactly one Namespace: it names the request's namespace."]}
        )
    for index in namespaces[1:]:
        fail([index, "kind"], "a second Namespace: a kubernetes template renders exactly one")
    namespace = objects[namespaces[0]]["metadata"]["name"]
    problem = namespace_problem(namespace)
    if problem:
        fail([namespaces[0], "metadata", "name"], f"the namespace {problem}")

    seen: dict[tuple[str, str], int] = {}
    for index, obj in enumerate(objects):
        kind, metadata = obj["kind"], obj["metadata"]
        if obj["apiVersion"] != api_version_of(kind):
            fail([index, "apiVersion"], f"{kind} is applied as {api_version_of(kind)}, not {obj['apiVersion']}")
        if kind == "Namespace" and "namespace" in metadata:
            fail([index, "metadata", "namespace"], "a Namespace is not in a namespace")
        elif metadata.get("namespace", namespace) != namespace:
            fail(
                [index, "metadata", "namespace"],
                f"{metadata['namespace']!r} is not the template's Namespace {namespace!r}: every object "
                "goes into the request's namespace",
            )
        key = (kind, metadata["name"])
        if key in seen:
            fail([index, "metadata", "name"], f"{kind} {metadata['name']} is already body[{seen[key]}]")
        seen.setdefault(key, index)
    return namespace, errors


def check_objects(objects: list[dict[str, Any]]) -> str:
    """The document (schema-valid) as the plugin applies it: one Namespace, every other object in
    it, none twice, each valid for Kubernetes (kubernetes-validate, strict). Returns the namespace's
    name; a ValidationError naming ``body[i]...`` otherwise."""
    namespace, errors = _structure_errors(objects)
    if errors:
        raise ValidationError(errors)
    for index, obj in enumerate(objects):
        try:
            kubernetes_validate.validate(placed(obj, namespace), VALIDATE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.setdefault(path_text([index, *exc.path]), []).append(
                f"{exc.message} (Kubernetes {VALIDATE_VERSION} schema of {obj['kind']})"
            )
    if errors:
        raise ValidationError(errors)
    return namespace


def placed(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """``obj`` with ``metadata.namespace`` filled in (namespaced kinds)."""
    if obj["kind"] == "Namespace":
        return obj
    return {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}


# --- quantities and words ---------------------------------------------------------------------


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity ("2", "500m", "1.5", "4Gi") as a Decimal, None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return Decimal(parse_quantity(value))
    except (ValueError, TypeError, InvalidOperation):
        return None


def number(value: Decimal) -> str:
    """``Decimal("2.000")`` -> ``"2"``, ``Decimal("0.5")`` -> ``"0.5"``."""
    return f"{value.normalize():f}"


CPU_KEYS = ("limits.cpu", "requests.cpu", "cpu")
MEMORY_KEYS = ("limits.memory", "requests.memory", "memory")


def _first(hard: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, Decimal] | None:
    for key in keys:
        if key in hard:
            amount = quantity(hard[key])
            if amount is not None:
                return key, amount
    return None


def quota_cpu(obj: dict[str, Any]) -> tuple[str, Decimal] | None:
    """(the key of spec.hard, cores) that bounds the CPU of every pod of the namespace, or None (no
    CPU limit, or a scoped quota, which bounds only some pods)."""
    spec = obj.get("spec") or {}
    if spec.get("scopes") or spec.get("scopeSelector"):
        return None
    return _first(spec.get("hard") or {}, CPU_KEYS)


def namespace_cpu(objects: list[dict[str, Any]]) -> tuple[Decimal, str] | None:
    """(cores, the document path of that number) the namespace's ResourceQuotas hold it to (the
    smallest bound, if several), or None when nothing bounds it."""
    best: tuple[Decimal, str] | None = None
    for index, obj in enumerate(objects):
        if obj.get("kind") != "ResourceQuota":
            continue
        found = quota_cpu(obj)
        if found is not None and (best is None or found[1] < best[0]):
            best = (found[1], path_text([index, "spec", "hard", found[0]]))
    return best


def _gib(amount: Decimal) -> str:
    return f"{number(amount / Decimal(2**30))} GiB"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _quota_words(name: str, obj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    spec = obj.get("spec") or {}
    hard = spec.get("hard") or {}
    parts, attributes = [], {}
    cpu = _first(hard, CPU_KEYS)
    if cpu:
        parts.append(f"{number(cpu[1])} CPU")
        attributes["cpu"] = number(cpu[1])
    memory = _first(hard, MEMORY_KEYS)
    if memory:
        parts.append(f"{_gib(memory[1])} memory")
        attributes["memory_gib"] = number(memory[1] / Decimal(2**30))
    if "pods" in hard:
        parts.append(f"{hard['pods']} pods")
    others = len(hard) - len([key for key in (*CPU_KEYS, *MEMORY_KEYS, "pods") if key in hard])
    if others > 0:
        parts.append(f"{_plural(others, 'more limit')}")
    if spec.get("scopes") or spec.get("scopeSelector"):
        parts.append("scoped")
    return f"ResourceQuota {name}: {', '.join(parts) or 'no limits'}", attributes


def _limit_range_words(name: str, obj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    words = []
    for limit in (obj.get("spec") or {}).get("limits") or []:
        default = limit.get("default") or {}
        text = ", ".join(f"{value} {key}" for key, value in default.items())
        kind = limit.get("type", "Container")
        words.append(f"{kind} default {text}" if text else kind)
    return f"LimitRange {name}: {'; '.join(words) or 'no limits'}", {}


def _role_binding_words(name: str, obj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ref = obj.get("roleRef") or {}
    subjects = len(obj.get("subjects") or [])
    return f"RoleBinding {name} -> {ref.get('kind', 'Role')} {ref.get('name', '?')}", {"subjects": subjects}


_WORDS = {
    "Namespace": lambda name, obj: (f"Namespace {name} on the shared cluster", {}),
    "ResourceQuota": _quota_words,
    "LimitRange": _limit_range_words,
    "RoleBinding": _role_binding_words,
    "Role": lambda name, obj: (f"Role {name}: {_plural(len(obj.get('rules') or []), 'rule')}", {}),
    "ConfigMap": lambda name, obj: (
        f"ConfigMap {name}: {_plural(len(obj.get('data') or {}) + len(obj.get('binaryData') or {}), 'key')}",
        {},
    ),
}


def summary(obj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A sentence for people, and the key attributes, of one template object."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    words = _WORDS.get(kind)
    return words(name, obj) if words else (f"{kind} {name}", {})
