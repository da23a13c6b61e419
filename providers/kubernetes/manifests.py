"""The objects the plugin adds to a template's: its access objects (a ServiceAccount, a Role and a
RoleBinding, for the requester's kubeconfig), the request's labels and annotations on every object,
the Namespace's pod-security label, and the TokenRequest. Pure functions, validated by the tests
with ``kubernetes-validate --strict``."""

from __future__ import annotations

from typing import Any

from providers.base import ProviderError
from providers.kubernetes.naming import ROLE_BINDING_NAME, ROLE_NAME, labels_of, service_account_name

POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")  # Pod Security Admission
DEFAULT_POD_SECURITY = "baseline"

POD_SECURITY_LABEL = "pod-security.kubernetes.io/enforce"

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


def tagged(obj: dict[str, Any], tags: dict[str, str], *, namespace: str | None = None) -> dict[str, Any]:
    """A copy of ``obj`` carrying ``tags`` as labels (sanitised) and annotations (verbatim), over
    any the template gave, and in ``namespace`` when it is namespaced."""
    metadata = dict(obj["metadata"])
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels_of(tags)}
    metadata["annotations"] = {**(metadata.get("annotations") or {}), **tags}
    return {**obj, "metadata": metadata}


def pod_security_level(namespace: dict[str, Any], setting: str) -> str:
    """The Namespace's enforced Pod Security Standard: the setting's (a namespace admin who may run
    privileged pods could break out of the namespace), or the template's when it is stricter."""
    if setting not in POD_SECURITY_LEVELS:
        raise ProviderError(
            f"SHARED_CLUSTER_POD_SECURITY must be one of {', '.join(POD_SECURITY_LEVELS)}; got {setting!r}."
        )
    asked = (namespace["metadata"].get("labels") or {}).get(POD_SECURITY_LABEL)
    if asked in POD_SECURITY_LEVELS and POD_SECURITY_LEVELS.index(asked) > POD_SECURITY_LEVELS.index(setting):
        return asked
    return setting


def with_pod_security(namespace: dict[str, Any], level: str) -> dict[str, Any]:
    metadata = dict(namespace["metadata"])
    metadata["labels"] = {**(metadata.get("labels") or {}), POD_SECURITY_LABEL: level}
    return {**namespace, "metadata": metadata}


def build_access(namespace: str, request_id: str | None) -> list[dict[str, Any]]:
    """The ServiceAccount the requester's kubeconfig authenticates as, a Role over what developers
    deploy in the namespace, and the RoleBinding of one to the other."""
    account = service_account_name(request_id)
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": namespace}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": ROLE_NAME, "namespace": namespace},
            "rules": [{key: list(value) for key, value in rule.items()} for rule in ROLE_RULES],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": ROLE_BINDING_NAME, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE_NAME},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
        },
    ]


def build_token_request(expiration_seconds: int) -> dict[str, Any]:
    # Empty audiences: the API server's own audiences, which is what kubectl needs.
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": [], "expirationSeconds": expiration_seconds},
    }
