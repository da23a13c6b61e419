"""The ``kubernetes`` provider: a namespace on an existing shared cluster, for one request.

``create`` makes, in the namespace named by the ``namespace`` parameter: the Namespace itself,
a ServiceAccount, a Role with full rights over the common namespaced resources (and no
cluster-scoped rights), a RoleBinding of that Role to the ServiceAccount, a ResourceQuota and a
LimitRange from the template's parameters. It then mints a token for the ServiceAccount with the
TokenRequest API that expires with the request, and returns a kubeconfig scoped to the namespace.
``delete`` deletes the namespace, which takes everything in it along.

The shared cluster is the one in the kubeconfig named by ``SHARED_CLUSTER_KUBECONFIG`` (a file)
or given inline by ``SHARED_CLUSTER_KUBECONFIG_DATA``; ``SHARED_CLUSTER_CONTEXT`` picks a context.

Every object is built by a pure function below (``build_*``), so tests can validate the
manifests with ``kubernetes-validate --strict``. A namespace is ours only when it carries the
``cloudassist-request`` label (and annotation) of this request: a namespace that exists for
another request, or without our label, is never adopted, changed or deleted.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import urllib3
import yaml
from django.conf import settings
from django.utils import timezone
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.config import new_client_from_config, new_client_from_config_dict
from kubernetes.config.config_exception import ConfigException

from provisioning.providers import register
from provisioning.providers.base import Outcome, Provider, ProviderError, State, Step, Target, TransientProviderError

REQUEST_LABEL = "cloudassist-request"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ROLE_NAME = "cloudassist-namespace-admin"
ROLE_BINDING_NAME = "cloudassist-namespace-admin"
MIN_TOKEN_SECONDS = 600  # the TokenRequest API refuses anything shorter than ten minutes
POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")  # Pod Security Admission
DEFAULT_POD_SECURITY = "baseline"

# The template's defaults (templates/seed.py, dev-namespace), for parameters left out.
DEFAULT_CPU_LIMIT = 2
DEFAULT_MEMORY_LIMIT_GI = 4
# The LimitRange's per-container defaults, as in the dev-namespace template's body.
CONTAINER_DEFAULT = {"cpu": "500m", "memory": "512Mi"}
CONTAINER_DEFAULT_REQUEST = {"cpu": "100m", "memory": "128Mi"}

_NAMESPACE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE_INVALID = re.compile(r"[^A-Za-z0-9_.-]+")
_LABEL_VALUE_MAX = 63

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


class NotFound(ProviderError):
    """The API answered 404 (callers that expect it catch it)."""


class AlreadyExists(ProviderError):
    """The API answered 409 AlreadyExists (callers that expect it catch it)."""


class Conflict(TransientProviderError):
    """The API answered 409 for another reason (a precondition failed, the object changed): look again."""


# --- names, labels and parameters -------------------------------------------------------------


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


# --- the objects (pure functions: validated by the tests with kubernetes-validate --strict) ----


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


def token_lifetime_seconds(
    expires_at: datetime | None, *, now: datetime, permanent_seconds: int, max_seconds: int
) -> int:
    """Seconds until the request expires (or ``permanent_seconds``), capped, and never under ten minutes."""
    if expires_at is None:
        wanted = permanent_seconds
    else:
        if timezone.is_naive(expires_at):
            expires_at = expires_at.replace(tzinfo=UTC)
        wanted = math.ceil((expires_at - now).total_seconds())
    return max(MIN_TOKEN_SECONDS, min(wanted, max_seconds))


@dataclass(frozen=True)
class ClusterEndpoint:
    """What a kubeconfig needs to reach the shared cluster (no credentials)."""

    name: str
    server: str
    certificate_authority_data: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None


def build_kubeconfig(*, cluster: ClusterEndpoint, namespace: str, user: str, token: str) -> dict[str, Any]:
    """A kubeconfig with one context: the namespace, as the service account."""
    entry: dict[str, Any] = {"server": cluster.server}
    if cluster.certificate_authority_data:
        entry["certificate-authority-data"] = cluster.certificate_authority_data
    if cluster.insecure_skip_tls_verify:
        entry["insecure-skip-tls-verify"] = True
    if cluster.tls_server_name:
        entry["tls-server-name"] = cluster.tls_server_name
    context = f"{cluster.name}-{namespace}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster.name, "cluster": entry}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": cluster.name, "namespace": namespace, "user": user}}],
        "current-context": context,
        "preferences": {},
    }


# --- the shared cluster -----------------------------------------------------------------------

NOT_CONFIGURED = (
    "No shared cluster is configured: set SHARED_CLUSTER_KUBECONFIG (a kubeconfig file) "
    "or SHARED_CLUSTER_KUBECONFIG_DATA (the kubeconfig YAML)."
)


@dataclass(frozen=True)
class SharedCluster:
    kubeconfig: dict[str, Any]
    path: Path | None  # the file it came from, if any (relative paths in it are relative to it)
    context: str | None
    endpoint: ClusterEndpoint

    def api_client(self) -> k8s.ApiClient:
        # Retry refused connections, never a request that may have reached the server: a read
        # timeout surfaces at once as a TransientProviderError and the job retries with backoff.
        configuration = k8s.Configuration(retries=urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0))
        options = {"context": self.context, "persist_config": False, "client_configuration": configuration}
        try:
            if self.path is not None:
                return new_client_from_config(config_file=str(self.path), **options)
            return new_client_from_config_dict(self.kubeconfig, **options)
        except ConfigException as exc:
            raise ProviderError(f"The shared cluster's kubeconfig cannot be used: {exc}") from exc


def _named(entries: Any, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get(what) or {}
    raise ProviderError(f"The shared cluster's kubeconfig has no {what} named '{name}'.")


def _endpoint(kubeconfig: dict[str, Any], context_name: str | None, base: Path | None) -> ClusterEndpoint:
    context_name = context_name or kubeconfig.get("current-context")
    if not context_name:
        raise ProviderError("The shared cluster's kubeconfig has no current-context: set SHARED_CLUSTER_CONTEXT.")
    context = _named(kubeconfig.get("contexts"), context_name, "context")
    cluster_name = context.get("cluster") or ""
    cluster = _named(kubeconfig.get("clusters"), cluster_name, "cluster")
    server = settings.SHARED_CLUSTER_PUBLIC_SERVER or cluster.get("server")
    if not server:
        raise ProviderError(f"The cluster '{cluster_name}' in the shared cluster's kubeconfig has no server.")
    ca_data = cluster.get("certificate-authority-data")
    if not ca_data and cluster.get("certificate-authority"):
        ca_path = Path(cluster["certificate-authority"]).expanduser()
        if not ca_path.is_absolute() and base is not None:
            ca_path = base / ca_path
        try:
            ca_data = base64.b64encode(ca_path.read_bytes()).decode("ascii")
        except OSError as exc:
            raise ProviderError(f"Cannot read the shared cluster's certificate authority {ca_path}: {exc}") from exc
    return ClusterEndpoint(
        name=cluster_name,
        server=server,
        certificate_authority_data=ca_data or None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name") or None,
    )


def load_shared_cluster() -> SharedCluster:
    """The shared cluster from the settings, or a ProviderError that says what to set."""
    path_setting = settings.SHARED_CLUSTER_KUBECONFIG
    data_setting = settings.SHARED_CLUSTER_KUBECONFIG_DATA
    if path_setting and data_setting:
        raise ProviderError("Set only one of SHARED_CLUSTER_KUBECONFIG and SHARED_CLUSTER_KUBECONFIG_DATA.")
    if not path_setting and not data_setting:
        raise ProviderError(NOT_CONFIGURED)
    path = None
    source = "SHARED_CLUSTER_KUBECONFIG_DATA"
    if path_setting:
        path = Path(path_setting).expanduser()
        source = f"SHARED_CLUSTER_KUBECONFIG ({path})"
        try:
            data_setting = path.read_text()
        except OSError as exc:
            raise ProviderError(f"Cannot read the shared cluster's kubeconfig {path}: {exc}") from exc
    try:
        kubeconfig = yaml.safe_load(data_setting)
    except yaml.YAMLError as exc:
        raise ProviderError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(kubeconfig, dict):
        raise ProviderError(f"{source} is not a kubeconfig.")
    context = settings.SHARED_CLUSTER_CONTEXT or None
    base = path.parent if path is not None else None
    return SharedCluster(
        kubeconfig=kubeconfig, path=path, context=context, endpoint=_endpoint(kubeconfig, context, base)
    )


# --- talking to the API server ----------------------------------------------------------------


def _status_message(exc: ApiException) -> tuple[str, str]:
    """(reason, message) from a Kubernetes Status body, or from the HTTP status line."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict):
        return str(body.get("reason") or exc.reason or ""), str(body.get("message") or exc.reason or "")
    return str(exc.reason or ""), str(exc.reason or "no message")


def api_error(description: str, exc: ApiException) -> ProviderError:
    """The ProviderError for an API error: 5xx, 429 and conflicts are transient, other 4xx permanent."""
    status = exc.status or 0
    reason, message = _status_message(exc)
    text = f"{description}: the API server answered {status} {reason}: {message}"
    if status == 404:
        return NotFound(text)
    if status == 409:
        return AlreadyExists(text) if reason == "AlreadyExists" else Conflict(text)
    if status >= 500 or status == 429:
        return TransientProviderError(text)
    return ProviderError(text)


class Session:
    """The API clients for one operation, with every call's errors mapped to ProviderErrors."""

    def __init__(self, cluster: SharedCluster):
        self.cluster = cluster
        self.api_client = cluster.api_client()
        self.core = k8s.CoreV1Api(self.api_client)
        self.rbac = k8s.RbacAuthorizationV1Api(self.api_client)
        self.timeout = settings.SHARED_CLUSTER_API_TIMEOUT

    def close(self) -> None:
        self.api_client.close()

    def send(self, description: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``call`` for a request with a JSON body: the generated client leaves Content-Type out on
        POST and DELETE (the API server then assumes JSON); say it anyway."""
        return self.call(description, method, *args, _headers={"Content-Type": "application/json"}, **kwargs)

    def call(self, description: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, _request_timeout=self.timeout, **kwargs)
        except ApiException as exc:
            raise api_error(description, exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientProviderError(
                f"{description}: the shared cluster's API server did not answer ({exc.__class__.__name__})."
            ) from exc


@contextmanager
def session() -> Iterator[Session]:
    opened = Session(load_shared_cluster())
    try:
        yield opened
    finally:
        opened.close()


def _owned(namespace: Any, target: Target) -> bool:
    """True when the namespace carries this request's label (and, when present, its annotation)."""
    metadata = namespace.metadata
    labels = metadata.labels or {}
    annotations = metadata.annotations or {}
    if labels.get(REQUEST_LABEL) != label_value(target.request_id):
        return False
    return annotations.get(REQUEST_LABEL, target.request_id) == target.request_id


def _terminating(namespace: Any) -> bool:
    phase = namespace.status.phase if namespace.status else None
    return phase == "Terminating" or namespace.metadata.deletion_timestamp is not None


def _isoformat(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@register("kubernetes")
class KubernetesNamespaceProvider(Provider):
    """A namespace on the shared cluster, with a namespace-scoped kubeconfig."""

    def create(self, target: Target) -> Outcome:
        # Built first: bad parameters fail before any call.
        manifests = build_manifests(target, pod_security=settings.SHARED_CLUSTER_POD_SECURITY)
        steps: list[Step] = []
        with session() as api:
            self._ensure_namespace(api, target, manifests[0], steps)
            for body in manifests[1:]:
                self._ensure(api, body, steps)
            return self._ready(api, target, steps)

    def status(self, target: Target) -> Outcome:
        namespace = namespace_name(target)
        with session() as api:
            found, steps = self._read_ours(api, target)
            if found is None:
                return Outcome(State.ABSENT, steps=steps)
            if _terminating(found):
                return Outcome(State.DELETING, outputs={"namespace": namespace}, steps=steps)
            try:
                return self._ready(api, target, steps)
            except NotFound:
                detail = f"Namespace {namespace} exists but its service account does not: create has not finished."
                return Outcome(State.CREATING, outputs={"namespace": namespace}, steps=[Step("status", detail)])

    def delete(self, target: Target) -> Outcome:
        namespace = namespace_name(target)
        with session() as api:
            for _attempt in range(2):
                found, steps = self._read_ours(api, target)
                if found is None:
                    return Outcome(State.ABSENT, steps=steps)
                if _terminating(found):
                    return Outcome(State.DELETING, steps=[Step("delete", f"Namespace {namespace} is being deleted.")])
                try:
                    api.send(
                        f"Deleting namespace {namespace}",
                        api.core.delete_namespace,
                        namespace,
                        body={"preconditions": {"uid": found.metadata.uid}, "propagationPolicy": "Background"},
                    )
                except NotFound:
                    return Outcome(State.ABSENT, steps=[Step("delete", f"Namespace {namespace} was already gone.")])
                except Conflict:
                    continue  # being deleted already, or replaced by another namespace: look again
                return Outcome(
                    State.DELETING,
                    steps=[
                        Step("delete", f"Deleted namespace {namespace} and everything in it.", {"namespace": namespace})
                    ],
                )
        raise TransientProviderError(f"Namespace {namespace} kept changing while it was being deleted.")

    # --- helpers --------------------------------------------------------------------------------

    def _read_ours(self, api: Session, target: Target) -> tuple[Any | None, list[Step]]:
        """(the namespace, []) if it is this request's, else (None, a step saying why not)."""
        namespace = namespace_name(target)
        try:
            found = api.call(f"Reading namespace {namespace}", api.core.read_namespace, namespace)
        except NotFound:
            return None, [Step("status", f"Namespace {namespace} does not exist.")]
        if not _owned(found, target):
            detail = f"Namespace {namespace} exists but does not belong to this request; it was left alone."
            return None, [Step("status", detail)]
        return found, []

    def _ensure_namespace(self, api: Session, target: Target, body: dict[str, Any], steps: list[Step]) -> None:
        namespace = body["metadata"]["name"]
        try:
            api.send(f"Creating namespace {namespace}", api.core.create_namespace, body)
            steps.append(Step("create", f"Created namespace {namespace}.", {"kind": "Namespace", "name": namespace}))
            return
        except AlreadyExists:
            pass
        try:
            found = api.call(f"Reading namespace {namespace}", api.core.read_namespace, namespace)
        except NotFound:
            raise TransientProviderError(f"Namespace {namespace} was deleted while it was being created.") from None
        if not _owned(found, target):
            other = (found.metadata.labels or {}).get(REQUEST_LABEL)
            whose = f"to request {other}" if other else "to something outside CloudAssist"
            raise ProviderError(f"The namespace '{namespace}' already exists and belongs {whose}: choose another name.")
        if _terminating(found):
            raise TransientProviderError(f"Namespace {namespace} is still being deleted; try again when it is gone.")
        steps.append(Step("exists", f"Namespace {namespace} already existed for this request.", {"kind": "Namespace"}))

    def _ensure(self, api: Session, body: dict[str, Any], steps: list[Step]) -> None:
        """Create a namespaced object; if it exists, patch it to the desired state."""
        kind = body["kind"]
        name = body["metadata"]["name"]
        namespace = body["metadata"]["namespace"]
        create, patch = {
            "ServiceAccount": (api.core.create_namespaced_service_account, api.core.patch_namespaced_service_account),
            "Role": (api.rbac.create_namespaced_role, api.rbac.patch_namespaced_role),
            "RoleBinding": (api.rbac.create_namespaced_role_binding, api.rbac.patch_namespaced_role_binding),
            "ResourceQuota": (api.core.create_namespaced_resource_quota, api.core.patch_namespaced_resource_quota),
            "LimitRange": (api.core.create_namespaced_limit_range, api.core.patch_namespaced_limit_range),
        }[kind]
        data = {"kind": kind, "name": name, "namespace": namespace}
        try:
            api.send(f"Creating {kind} {name} in namespace {namespace}", create, namespace, body)
            steps.append(Step("create", f"Created {kind} {name} in namespace {namespace}.", data))
            return
        except AlreadyExists:
            pass
        api.call(
            f"Updating {kind} {name} in namespace {namespace}",
            patch,
            name,
            namespace,
            body,
            _content_type="application/merge-patch+json",
        )
        steps.append(Step("update", f"{kind} {name} already existed; set to the desired state.", data))

    def _ready(self, api: Session, target: Target, steps: list[Step]) -> Outcome:
        """Mint a token that expires with the request; READY with the namespace-scoped kubeconfig."""
        namespace = namespace_name(target)
        account = service_account_name(target)
        now = timezone.now()
        seconds = token_lifetime_seconds(
            target.expires_at,
            now=now,
            permanent_seconds=settings.SHARED_CLUSTER_PERMANENT_TOKEN_SECONDS,
            max_seconds=settings.SHARED_CLUSTER_TOKEN_MAX_SECONDS,
        )
        answer = api.send(
            f"Requesting a token for service account {account} in namespace {namespace}",
            api.core.create_namespaced_service_account_token,
            account,
            namespace,
            build_token_request(seconds),
        )
        token = answer.status.token if answer.status else None
        if not token:
            raise TransientProviderError(f"The API server returned no token for service account {account}.")
        expires = answer.status.expiration_timestamp
        token_expires_at = _isoformat(expires) if expires else None
        endpoint = api.cluster.endpoint
        kubeconfig = build_kubeconfig(cluster=endpoint, namespace=namespace, user=f"{account}@{namespace}", token=token)
        steps.append(
            Step(
                "token",
                f"Minted a token for service account {account}, valid until {token_expires_at}.",
                {"service_account": account, "expires_at": token_expires_at, "seconds": seconds},
            )
        )
        return Outcome(
            State.READY,
            outputs={
                "namespace": namespace,
                "server": endpoint.server,
                "context": kubeconfig["current-context"],
                "service_account": account,
                "token_expires_at": token_expires_at,
            },
            secret=yaml.safe_dump(kubeconfig, sort_keys=False, default_flow_style=False),
            secret_kind="kubeconfig",
            steps=steps,
        )
