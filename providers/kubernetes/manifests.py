"""The Kubernetes objects: pure functions of the target, validated by the tests with
``kubernetes-validate --strict``."""

from __future__ import annotations

from typing import Any

from providers.base import ProviderError, Target
from providers.kubernetes.naming import (
    ROLE_BINDING_NAME,
    ROLE_NAME,
    namespace_name,
    object_annotations,
    object_labels,
    quota_limits,
    service_account_name,
)

POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")  # Pod Security Admission
DEFAULT_POD_SECURITY = "baseline"

# The LimitRange's per-container defaults, as in the dev-namespace template's body.
CONTAINER_DEFAULT = {"cpu": "500m", "memory": "512Mi"}
CONTAINER_DEFAULT_REQUEST = {"cpu": "100m", "memory": "128Mi"}

_ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
_READ_VERBS = ["get", "list", "watch"]
# Full access to what developers deploy; read-only access to what CloudAssist sets (the quota,
# the limits) and to what the cluster reports. No RBAC objects (no self-escalation), nothing
# cluster-scoped (a Role cannot grant that anyway).
ROLE_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": [
            "pods",
            "pods/log",
            "pods/exec",
            "pods/attach",
            "pods/portforward",
            "services",
            "endpoints",
            "configmaps",
            "secrets",
            "persistentvolumeclaims",
            "serviceaccounts",
            "replicationcontrollers",
        ],
        "verbs": _ALL_VERBS,
    },
    {
        "apiGroups": ["apps"],
        "resources": ["deployments", "deployments/scale", "replicasets", "statefulsets", "daemonsets"],
        "verbs": _ALL_VERBS,
    },
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": _ALL_VERBS},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"], "verbs": _ALL_VERBS},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": _ALL_VERBS},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": _ALL_VERBS},
    {"apiGroups": [""], "resources": ["events", "resourcequotas", "limitranges", "pods/status"], "verbs": _READ_VERBS},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": _READ_VERBS},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _READ_VERBS},
]


def _metadata(target: Target, name: str, *, namespaced: bool = True) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespaced:
        metadata["namespace"] = namespace_name(target)
    metadata["labels"] = object_labels(target)
    metadata["annotations"] = object_annotations(target)
    return metadata


def build_namespace(target: Target, *, pod_security: str = DEFAULT_POD_SECURITY) -> dict[str, Any]:
    """The namespace; ``pod_security`` is the Pod Security Standard its pods are held to (a
    namespace admin who may run privileged pods could otherwise break out of the namespace)."""
    metadata = _metadata(target, namespace_name(target), namespaced=False)
    if pod_security not in POD_SECURITY_LEVELS:
        raise ProviderError(
            f"SHARED_CLUSTER_POD_SECURITY must be one of {', '.join(POD_SECURITY_LEVELS)}; got {pod_security!r}."
        )
    metadata["labels"]["pod-security.kubernetes.io/enforce"] = pod_security
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def build_service_account(target: Target) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(target, service_account_name(target))}


def build_role(target: Target) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(target, ROLE_NAME),
        "rules": [{key: list(value) for key, value in rule.items()} for rule in ROLE_RULES],
    }


def build_role_binding(target: Target) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(target, ROLE_BINDING_NAME),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE_NAME},
        "subjects": [
            {"kind": "ServiceAccount", "name": service_account_name(target), "namespace": namespace_name(target)}
        ],
    }


def build_resource_quota(target: Target) -> dict[str, Any]:
    cpu, memory_gi = quota_limits(target)
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _metadata(target, f"{namespace_name(target)}-quota"),
        "spec": {
            "hard": {
                "requests.cpu": str(cpu),
                "limits.cpu": str(cpu),
                "requests.memory": f"{memory_gi}Gi",
                "limits.memory": f"{memory_gi}Gi",
            }
        },
    }


def build_limit_range(target: Target) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _metadata(target, f"{namespace_name(target)}-defaults"),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": dict(CONTAINER_DEFAULT),
                    "defaultRequest": dict(CONTAINER_DEFAULT_REQUEST),
                }
            ]
        },
    }


def build_token_request(expiration_seconds: int) -> dict[str, Any]:
    # Empty audiences: the API server's own audiences, which is what kubectl needs.
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": [], "expirationSeconds": expiration_seconds},
    }


def build_manifests(target: Target, *, pod_security: str = DEFAULT_POD_SECURITY) -> list[dict[str, Any]]:
    """Every object ``create`` applies, in order."""
    return [
        build_namespace(target, pod_security=pod_security),
        build_service_account(target),
        build_role(target),
        build_role_binding(target),
        build_resource_quota(target),
        build_limit_range(target),
    ]
