"""The provider: create, status and delete of a request's namespace on the shared cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from django.conf import settings
from django.utils import timezone

from providers import register
from providers.base import Outcome, Provider, ProviderError, State, Step, Target, TransientProviderError
from providers.kubernetes.client import AlreadyExists, Conflict, NotFound, Session, session
from providers.kubernetes.kubeconfig import build_kubeconfig, load_shared_cluster, token_lifetime_seconds
from providers.kubernetes.manifests import build_manifests, build_token_request
from providers.kubernetes.naming import REQUEST_LABEL, label_value, namespace_name, service_account_name


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

    label = "Kubernetes (namespace on a shared cluster)"
    multiple_documents = True
    document_schema = {"type": "array"}

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Unusable until the shared cluster's kubeconfig is set (and readable)."""
        try:
            load_shared_cluster()
        except ProviderError as exc:
            return str(exc)
        return None

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
