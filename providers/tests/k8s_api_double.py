"""A test double of the Kubernetes API server's HTTP endpoints (no real API server can run here).

It implements just what the ``kubernetes`` provider calls, over real HTTP on 127.0.0.1, and
keeps objects in memory:

- namespaces: POST, GET (one, or the list with an equality ``labelSelector``), PATCH, DELETE (a
  delete marks the namespace Terminating, as a real server does while its finalizer runs;
  ``finish_deletions()`` then removes it and its contents);
- in a namespace, serviceaccounts, resourcequotas, limitranges, configmaps, roles, rolebindings
  and networkpolicies: POST, GET, PATCH (JSON merge patch, RFC 7386; strategic merge is treated
  the same, which is exact for the objects the provider patches), DELETE;
- serviceaccounts/{name}/token: POST (a TokenRequest).

Like the real server it checks the bearer token (401), answers 404 NotFound, 409 AlreadyExists
and 409 Conflict with Kubernetes ``Status`` bodies, refuses new objects in a missing (404) or
terminating (403) namespace, honours ``preconditions.uid`` on delete, and refuses tokens shorter
than ten minutes (422). Every object it stores, created or patched, must pass
``kubernetes-validate --strict`` (422 otherwise). It records every request for assertions, and
``fail()`` makes chosen requests answer an error (or answer late) to test error handling.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate

KUBERNETES_VERSION = "1.33.0"  # the schemas the double validates stored objects against

# resource (URL segment) -> (API group path, apiVersion, kind, namespaced)
RESOURCES = {
    "namespaces": ("api/v1", "v1", "Namespace", False),
    "serviceaccounts": ("api/v1", "v1", "ServiceAccount", True),
    "resourcequotas": ("api/v1", "v1", "ResourceQuota", True),
    "limitranges": ("api/v1", "v1", "LimitRange", True),
    "roles": ("apis/rbac.authorization.k8s.io/v1", "rbac.authorization.k8s.io/v1", "Role", True),
    "configmaps": ("api/v1", "v1", "ConfigMap", True),
    "rolebindings": ("apis/rbac.authorization.k8s.io/v1", "rbac.authorization.k8s.io/v1", "RoleBinding", True),
    "networkpolicies": ("apis/networking.k8s.io/v1", "networking.k8s.io/v1", "NetworkPolicy", True),
}
GROUPS = {"rbac.authorization.k8s.io/v1": "rbac.authorization.k8s.io", "networking.k8s.io/v1": "networking.k8s.io"}
_GROUP_PATHS = r"(?:api/v1|apis/rbac\.authorization\.k8s\.io/v1|apis/networking\.k8s\.io/v1)"
_NAMESPACED = r"(?P<resource>serviceaccounts|resourcequotas|limitranges|configmaps|roles|rolebindings|networkpolicies)"

_ROUTES = [
    (re.compile(r"^/api/v1/(?P<resource>namespaces)$"), "collection"),
    (re.compile(r"^/api/v1/(?P<resource>namespaces)/(?P<name>[^/]+)$"), "object"),
    (re.compile(r"^/api/v1/namespaces/(?P<namespace>[^/]+)/serviceaccounts/(?P<name>[^/]+)/token$"), "token"),
    (re.compile(rf"^/{_GROUP_PATHS}/namespaces/(?P<namespace>[^/]+)/{_NAMESPACED}$"), "collection"),
    (re.compile(rf"^/{_GROUP_PATHS}/namespaces/(?P<namespace>[^/]+)/{_NAMESPACED}/(?P<name>[^/]+)$"), "object"),
]


@dataclass
class Recorded:
    """One request as the double received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    message: str
    delay: float = 0.0


@dataclass
class Issued:
    namespace: str
    service_account: str
    expiration_seconds: int
    expires_at: datetime


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class KubernetesAPIDouble:
    """Start with ``start()`` (or as a context manager); ``url`` and ``kubeconfig()`` reach it."""

    token: str = "double-admin-token"
    objects: dict[tuple[str, str | None, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    issued: dict[str, Issued] = field(default_factory=dict)
    validate_version: str = KUBERNETES_VERSION

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._versions = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> KubernetesAPIDouble:
        double = self

        class Handler(_Handler):
            api = double

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="k8s-api-double", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> KubernetesAPIDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the double first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def kubeconfig(self, *, token: str | None = None, ca_data: str | None = None) -> dict[str, Any]:
        """A kubeconfig for the double (cluster "double", context "double-admin", token auth)."""
        cluster: dict[str, Any] = {"server": self.url}
        if ca_data:
            cluster["certificate-authority-data"] = ca_data
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "double", "cluster": cluster}],
            "users": [{"name": "double-admin", "user": {"token": token or self.token}}],
            "contexts": [{"name": "double-admin", "context": {"cluster": "double", "user": "double-admin"}}],
            "current-context": "double-admin",
        }

    # --- test controls --------------------------------------------------------------------------

    def fail(
        self, method: str, path: str, status: int = 500, *, times: int = 1, message: str = "", delay: float = 0.0
    ) -> None:
        """The next ``times`` requests matching ``method`` and the ``path`` regex (searched) answer
        ``status`` with a Status body (after ``delay`` seconds)."""
        with self._lock:
            self._faults.append(
                Fault(method.upper(), re.compile(path), status, times, message or f"injected failure {status}", delay)
            )

    def add_namespace(self, name: str, *, labels: dict[str, str] | None = None, annotations=None) -> dict[str, Any]:
        """A namespace that was there before (someone else's, unless given our labels)."""
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        if labels:
            body["metadata"]["labels"] = labels
        if annotations:
            body["metadata"]["annotations"] = annotations
        with self._lock:
            return self._store("namespaces", None, body)

    def finish_deletions(self) -> None:
        """What the namespace controller does: remove terminating namespaces and their contents."""
        with self._lock:
            gone = {
                name
                for (resource, _ns, name), obj in self.objects.items()
                if resource == "namespaces" and obj["status"]["phase"] == "Terminating"
            }
            for key in [key for key in self.objects if key[1] in gone or (key[0] == "namespaces" and key[2] in gone)]:
                del self.objects[key]

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self.objects.get((resource, namespace, name)))

    def names(self, resource: str, namespace: str | None = None) -> list[str]:
        with self._lock:
            return sorted(name for (res, ns, name) in self.objects if res == resource and ns == namespace)

    def calls(self, method: str | None = None, path: str = "") -> list[Recorded]:
        """Recorded requests, filtered by method and a path regex (searched)."""
        with self._lock:
            return [
                r for r in self.requests if (method is None or r.method == method.upper()) and re.search(path, r.path)
            ]

    # --- the API --------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: Any, query: dict[str, list[str]] | None = None
    ) -> tuple[int, dict[str, Any]]:
        if headers.get("authorization") != f"Bearer {self.token}":
            raise ApiError(401, "Unauthorized", "Unauthorized")
        for pattern, kind in _ROUTES:
            match = pattern.match(path)
            if match:
                params = match.groupdict()
                resource = params.get("resource")
                if resource and not path.startswith(f"/{RESOURCES[resource][0]}/"):
                    break  # a resource under another group's path: not found, as on a real server
                handler = getattr(self, f"_{kind}_{method.lower()}", None)
                if handler is None:
                    raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method ({method}) here")
                if kind == "collection" and method.upper() == "GET":
                    params["query"] = query or {}
                with self._lock:
                    return handler(body=body, **params)
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.method == method and fault.path.search(path):
                    fault.times -= 1
                    return fault
        return None

    def _collection_post(self, *, body: Any, resource: str, namespace: str | None = None) -> tuple[int, dict]:
        _group, api_version, kind, namespaced = RESOURCES[resource]
        if not isinstance(body, dict) or body.get("kind") != kind or body.get("apiVersion") != api_version:
            raise ApiError(400, "BadRequest", f"the body must be a {api_version} {kind}")
        name = (body.get("metadata") or {}).get("name")
        if not name:
            raise ApiError(422, "Invalid", f"{kind} is invalid: metadata.name: Required value")
        if namespaced:
            if body["metadata"].get("namespace", namespace) != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            self._require_namespace(namespace, creating=True)
        if (resource, namespace, name) in self.objects:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{self._qualified(resource)} "{name}" already exists',
                {"name": name, "group": GROUPS.get(api_version, ""), "kind": resource},
            )
        return 201, self._store(resource, namespace, body)

    def _collection_get(
        self, *, body: Any, resource: str, query: dict[str, list[str]], namespace: str | None = None
    ) -> tuple[int, dict]:
        """The list, filtered by an equality label selector (``a=b,c=d``)."""
        wanted: dict[str, str] = {}
        for selector in query.get("labelSelector", []):
            for term in filter(None, selector.split(",")):
                key, sep, value = term.partition("=")
                if not sep or key.endswith("!"):
                    raise ApiError(400, "BadRequest", f"the double understands equality selectors only: {term}")
                wanted[key.strip()] = value.lstrip("=").strip()
        items = [
            copy.deepcopy(obj)
            for (res, ns, _name), obj in sorted(self.objects.items(), key=lambda entry: entry[0][2])
            if res == resource
            and ns == namespace
            and all((obj["metadata"].get("labels") or {}).get(key) == value for key, value in wanted.items())
        ]
        _group, api_version, kind, _namespaced = RESOURCES[resource]
        return 200, {
            "kind": f"{kind}List",
            "apiVersion": api_version,
            "metadata": {"resourceVersion": str(next(self._versions))},
            "items": items,
        }

    def _object_get(self, *, body: Any, resource: str, name: str, namespace: str | None = None) -> tuple[int, dict]:
        return 200, copy.deepcopy(self._existing(resource, namespace, name))

    def _object_patch(self, *, body: Any, resource: str, name: str, namespace: str | None = None) -> tuple[int, dict]:
        current = self._existing(resource, namespace, name)
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
        patched = merge_patch(current, body)
        for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp"):
            if current["metadata"].get(key) is not None:
                patched["metadata"][key] = current["metadata"][key]
        if resource == "rolebindings" and patched.get("roleRef") != current.get("roleRef"):
            raise ApiError(422, "Invalid", "RoleBinding is invalid: roleRef: Invalid value: cannot change roleRef")
        self._validate(patched)
        patched["metadata"]["resourceVersion"] = str(next(self._versions))
        self.objects[(resource, namespace, name)] = patched
        return 200, copy.deepcopy(patched)

    def _object_delete(self, *, body: Any, resource: str, name: str, namespace: str | None = None) -> tuple[int, dict]:
        current = self._existing(resource, namespace, name)
        if resource != "namespaces":
            del self.objects[(resource, namespace, name)]
            return 200, status_body(200, "", "") | {"status": "Success", "details": {"name": name, "kind": resource}}
        uid = ((body or {}).get("preconditions") or {}).get("uid")
        if uid and uid != current["metadata"]["uid"]:
            raise ApiError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {current['metadata']['uid']}",
            )
        if current["status"]["phase"] == "Terminating":
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on namespaces "{name}": The system is ensuring all content is '
                "removed from this namespace.  Upon completion, this namespace will automatically be purged by "
                "the system.",
            )
        current["metadata"]["deletionTimestamp"] = _timestamp(_now())
        current["status"]["phase"] = "Terminating"
        current["metadata"]["resourceVersion"] = str(next(self._versions))
        return 200, copy.deepcopy(current)

    def _token_post(self, *, body: Any, namespace: str, name: str) -> tuple[int, dict]:
        if not isinstance(body, dict) or body.get("kind") != "TokenRequest":
            raise ApiError(400, "BadRequest", "the body must be an authentication.k8s.io/v1 TokenRequest")
        self._validate(body)
        self._require_namespace(namespace, creating=True)
        self._existing("serviceaccounts", namespace, name)
        seconds = (body.get("spec") or {}).get("expirationSeconds") or 3600
        if seconds < 600:
            raise ApiError(
                422,
                "Invalid",
                f"TokenRequest.authentication.k8s.io is invalid: spec.expirationSeconds: Invalid value: {seconds}: "
                "may not specify a duration less than 10 minutes",
            )
        expires = _now() + timedelta(seconds=seconds)
        token = f"double-token-{uuid.uuid4().hex}"
        self.issued[token] = Issued(namespace, name, seconds, expires)
        answer = copy.deepcopy(body)
        answer["metadata"] = {"name": name, "namespace": namespace, "creationTimestamp": _timestamp(_now())}
        answer["spec"]["audiences"] = answer["spec"].get("audiences") or ["https://kubernetes.default.svc"]
        answer["spec"]["expirationSeconds"] = seconds
        answer["status"] = {"token": token, "expirationTimestamp": _timestamp(expires)}
        return 201, answer

    # --- storage --------------------------------------------------------------------------------

    @staticmethod
    def _qualified(resource: str) -> str:
        group = GROUPS.get(RESOURCES[resource][1], "")
        return f"{resource}.{group}" if group else resource

    def _existing(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        current = self.objects.get((resource, namespace, name))
        if current is None:
            api_version = RESOURCES[resource][1]
            raise ApiError(
                404,
                "NotFound",
                f'{self._qualified(resource)} "{name}" not found',
                {"name": name, "group": GROUPS.get(api_version, ""), "kind": resource},
            )
        return current

    def _require_namespace(self, namespace: str | None, *, creating: bool) -> None:
        found = self._existing("namespaces", None, namespace or "")
        if creating and found["status"]["phase"] == "Terminating":
            raise ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being terminated",
                {"causes": [{"reason": "NamespaceTerminating"}]},
            )

    def _validate(self, obj: dict[str, Any]) -> None:
        try:
            kubernetes_validate.validate(obj, self.validate_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(item) for item in exc.path)
            raise ApiError(422, "Invalid", f"{obj.get('kind')} is invalid: {path}: {exc.message}") from exc

    def _store(self, resource: str, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        self._validate(body)
        obj = copy.deepcopy(body)
        metadata = obj["metadata"]
        if namespace is not None:
            metadata["namespace"] = namespace
        metadata.update(
            uid=str(uuid.uuid4()), resourceVersion=str(next(self._versions)), creationTimestamp=_timestamp(_now())
        )
        if resource == "namespaces":
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        self.objects[(resource, namespace, metadata["name"])] = obj
        return copy.deepcopy(obj)


class _Handler(BaseHTTPRequestHandler):
    api: KubernetesAPIDouble
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {key.lower(): value for key, value in self.headers.items()}
        with self.api._lock:
            self.api.requests.append(Recorded(self.command, split.path, parse_qs(split.query), headers, body))
        fault = self.api.fault_for(self.command, split.path)
        try:
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                reason = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}.get(
                    fault.status, "Failure"
                )
                raise ApiError(fault.status, reason, fault.message)
            if body is not None and not isinstance(body, dict | list):
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format")
            status, answer = self.api.handle(self.command, split.path, headers, body, parse_qs(split.query))
        except ApiError as exc:
            status, answer = exc.code, status_body(exc.code, exc.reason, exc.message, exc.details)
        payload = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve
