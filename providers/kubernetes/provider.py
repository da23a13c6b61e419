"""The plugin: plan, estimate, create, status and delete of a request's namespace, and reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from providers import register
from providers.base import (
    Found,
    Outcome,
    Plan,
    PlannedResource,
    Provider,
    ProviderError,
    State,
    Step,
    Target,
    TransientProviderError,
)
from providers.documents import path_text
from providers.kubernetes import manifests as built
from providers.kubernetes import objects
from providers.kubernetes.client import AlreadyExists, Conflict, NotFound, Session, session
from providers.kubernetes.kubeconfig import build_kubeconfig, load_shared_cluster, token_lifetime_seconds
from providers.kubernetes.naming import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    REQUEST_LABEL,
    ROLE_NAME,
    label_value,
    request_tags,
    service_account_name,
)

if TYPE_CHECKING:
    from quotas.estimates import Estimate, Prices

NO_CPU_LIMIT = (
    "A kubernetes template needs a ResourceQuota with spec.hard limits.cpu (or requests.cpu): the "
    "estimate, and the quota hold it sets, are the namespace's share of the shared cluster's CPU."
)
RESERVED_PREFIX = "cloudassist-"  # the plugin's own ServiceAccount, Role and RoleBinding


def _owned(namespace: Any, request_id: str) -> bool:
    """True when the namespace carries this request's label (and, when present, its annotation)."""
    metadata = namespace.metadata
    labels = metadata.labels or {}
    annotations = metadata.annotations or {}
    if labels.get(REQUEST_LABEL) != label_value(request_id):
        return False
    return annotations.get(REQUEST_LABEL, request_id) == request_id


def _terminating(namespace: Any) -> bool:
    phase = namespace.status.phase if namespace.status else None
    return phase == "Terminating" or namespace.metadata.deletion_timestamp is not None


def _isoformat(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _words(obj: dict[str, Any]) -> str:
    return f"{obj['kind']} {obj['metadata']['name']}"


def _spec_of(target: Target) -> tuple[str, str, list[dict[str, Any]]]:
    """(namespace, service account, objects) of the target's plan."""
    spec = target.spec
    try:
        return spec["namespace"], spec["service_account"], list(spec["objects"])
    except (KeyError, TypeError):
        raise ProviderError(
            "The request's plan is not a kubernetes plan (no namespace and objects): plan it again."
        ) from None


@register("kubernetes")
class KubernetesNamespaceProvider(Provider):
    """A namespace on the shared cluster holding the template's objects, with a namespace-scoped kubeconfig."""

    label = "Kubernetes (namespace on a shared cluster)"
    multiple_documents = True
    document_schema = objects.DOCUMENT_SCHEMA

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Unusable until the shared cluster's kubeconfig is set (and readable)."""
        try:
            load_shared_cluster()
        except ProviderError as exc:
            return str(exc)
        return None

    # --- planning -------------------------------------------------------------------------------

    def check(self, manifests: list[dict[str, Any]]) -> Any:
        objects.check_kinds(manifests)
        document = super().check(manifests)
        objects.check_objects(document)
        errors: dict[str, list[str]] = {}
        for index, obj in enumerate(document):
            name = obj["metadata"]["name"]
            if obj["kind"] in ("ServiceAccount", "Role", "RoleBinding") and name.startswith(RESERVED_PREFIX):
                errors[path_text([index, "metadata", "name"])] = [
                    f"names starting with '{RESERVED_PREFIX}' are the plugin's own access objects"
                ]
        if errors:
            raise ValidationError(errors)
        if objects.namespace_cpu(document) is None:
            raise ValidationError({"body": [NO_CPU_LIMIT]})
        return document

    def plan(self, manifests: list[dict[str, Any]], *, request_id: str | None = None) -> Plan:
        document = self.check(manifests)
        namespace_index = next(index for index, obj in enumerate(document) if obj["kind"] == "Namespace")
        namespace_obj = document[namespace_index]
        namespace = namespace_obj["metadata"]["name"]
        level = built.pod_security_level(namespace_obj, settings.SHARED_CLUSTER_POD_SECURITY)
        tags = request_tags(request_id)
        cores, _where = objects.namespace_cpu(document)
        account = service_account_name(request_id)

        summary, attributes = objects.summary(namespace_obj)
        resources = [
            PlannedResource(
                kind="Namespace",
                name=namespace,
                summary=summary,
                attributes={**attributes, "pod_security": level, "cpu": objects.number(cores)},
            ),
            PlannedResource(
                kind="access",
                name=account,
                summary=f"access: ServiceAccount {account} with Role {ROLE_NAME}",
                attributes={"service_account": account, "role": ROLE_NAME, "role_binding": ROLE_NAME},
            ),
        ]
        applied = [built.tagged(built.with_pod_security(namespace_obj, level), tags)]
        applied += [built.tagged(obj, tags) for obj in built.build_access(namespace, request_id)]
        for index, obj in enumerate(document):
            if index == namespace_index:
                continue
            summary, attributes = objects.summary(obj)
            resources.append(
                PlannedResource(kind=obj["kind"], name=obj["metadata"]["name"], summary=summary, attributes=attributes)
            )
            applied.append(built.tagged(obj, tags, namespace=namespace))
        return Plan(
            provider=self.name,
            resources=resources,
            spec={"namespace": namespace, "service_account": account, "pod_security": level, "objects": applied},
        )

    def estimate(self, plan: Plan, hours: Decimal, prices: Prices) -> Estimate:
        """The namespace's CPU share of the shared cluster's reference node (SHARED_CLUSTER_NODE_TYPE
        in SHARED_CLUSTER_REGION): the cores its ResourceQuota allows over the node's vCPUs."""
        from quotas.estimates import Estimate, LineItem

        found = objects.namespace_cpu(plan.spec.get("objects") or [])
        if found is None:
            raise ValidationError({"body": [NO_CPU_LIMIT]})
        cores = found[0]
        reference_type, region = settings.SHARED_CLUSTER_NODE_TYPE, settings.SHARED_CLUSTER_REGION
        price = prices.instance(reference_type, region, where="body")
        vcpus = Decimal(price.vcpus or 2)
        share = cores / vcpus
        estimate = Estimate(hours=hours)
        estimate.line_items.append(
            LineItem(
                description=(
                    f"{objects.number(cores)} vCPU on the shared cluster ({share:.4g} x {reference_type}, {region})"
                ),
                quantity=share,
                unit="machines",
                hours=hours,
                usd_rate=price.usd_per_hour,
                rate_unit="USD per machine-hour",
                usd=share * hours * price.usd_per_hour,
                machine_hours=share * hours,
            )
        )
        return estimate

    # --- operations -----------------------------------------------------------------------------

    def create(self, target: Target) -> Outcome:
        namespace, account, planned = _spec_of(target)
        applied = [built.tagged(obj, target.tags) for obj in planned]  # the owner's tags too
        steps: list[Step] = []
        with session() as api:
            self._ensure_namespace(api, target, applied[0], steps)
            for body in applied[1:]:
                self._ensure(api, body, steps)
            return self._ready(api, target, namespace, account, steps)

    def status(self, target: Target) -> Outcome:
        namespace, account, _planned = _spec_of(target)
        with session() as api:
            found, steps = self._read_ours(api, target, namespace)
            if found is None:
                return Outcome(State.ABSENT, steps=steps)
            if _terminating(found):
                return Outcome(State.DELETING, outputs={"namespace": namespace}, steps=steps)
            try:
                return self._ready(api, target, namespace, account, steps)
            except NotFound:
                detail = f"Namespace {namespace} exists but its service account does not: create has not finished."
                return Outcome(State.CREATING, outputs={"namespace": namespace}, steps=[Step("status", detail)])

    def delete(self, target: Target) -> Outcome:
        namespace, _account, _planned = _spec_of(target)
        with session() as api:
            for _attempt in range(2):
                found, steps = self._read_ours(api, target, namespace)
                if found is None:
                    return Outcome(State.ABSENT, steps=steps)
                if _terminating(found):
                    return Outcome(State.DELETING, steps=[Step("delete", f"Namespace {namespace} is being deleted.")])
                try:
                    self._delete_namespace(api, namespace, found.metadata.uid)
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

    # --- reconciliation -------------------------------------------------------------------------

    def inventory(self) -> list[Found]:
        """Namespaces labelled ``app.kubernetes.io/managed-by=cloudassist``, with the request they name."""
        with session() as api:
            listed = api.call(
                "Listing CloudAssist's namespaces",
                api.core.list_namespace,
                label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}",
            )
            cluster = api.cluster.endpoint.name
        found = []
        for item in listed.items or []:
            metadata = item.metadata
            labels, annotations = metadata.labels or {}, metadata.annotations or {}
            found.append(
                Found(
                    kind="Namespace",
                    name=metadata.name,
                    request_id=annotations.get(REQUEST_LABEL) or labels.get(REQUEST_LABEL) or None,
                    region=cluster,
                    created_at=metadata.creation_timestamp,
                    detail={
                        "phase": item.status.phase if item.status else None,
                        "owner": annotations.get("cloudassist-owner"),
                    },
                )
            )
        return found

    def missing(self, target: Target) -> list[str]:
        """The planned objects that are not there now (all of them when the namespace is gone)."""
        namespace, _account, planned = _spec_of(target)
        with session() as api:
            found, _steps = self._read_ours(api, target, namespace)
            if found is None or _terminating(found):
                return [_words(obj) for obj in planned]
            gone = []
            for obj in planned[1:]:
                kind = objects.KINDS[obj["kind"]]
                name = obj["metadata"]["name"]
                try:
                    api.call(
                        f"Reading {_words(obj)} in namespace {namespace}",
                        api.method(kind.api, "read", kind.snake),
                        name,
                        namespace,
                    )
                except NotFound:
                    gone.append(_words(obj))
            return gone

    def remove(self, found: Found) -> list[Step]:
        """Delete an orphan namespace, only while it is labelled as CloudAssist's (and, when
        ``found`` names a request, that request's)."""
        name = found.name
        with session() as api:
            try:
                current = api.call(f"Reading namespace {name}", api.core.read_namespace, name)
            except NotFound:
                return [Step("remove", f"Namespace {name} was already gone.")]
            labels = current.metadata.labels or {}
            annotations = current.metadata.annotations or {}
            request = annotations.get(REQUEST_LABEL) or labels.get(REQUEST_LABEL) or None
            if labels.get(MANAGED_BY_LABEL) != MANAGED_BY_VALUE or (found.request_id and request != found.request_id):
                return [
                    Step("remove", f"Namespace {name} is not the orphan found (no longer labelled so); left alone.")
                ]
            if _terminating(current):
                return [Step("remove", f"Namespace {name} is being deleted.")]
            try:
                self._delete_namespace(api, name, current.metadata.uid)
            except NotFound:
                return [Step("remove", f"Namespace {name} was already gone.")]
            except Conflict:
                return [Step("remove", f"Namespace {name} changed meanwhile; left for the next round.")]
        return [Step("remove", f"Deleted orphan namespace {name} and everything in it.", {"namespace": name})]

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _delete_namespace(api: Session, namespace: str, uid: str) -> None:
        api.send(
            f"Deleting namespace {namespace}",
            api.core.delete_namespace,
            namespace,
            body={"preconditions": {"uid": uid}, "propagationPolicy": "Background"},
        )

    def _read_ours(self, api: Session, target: Target, namespace: str) -> tuple[Any | None, list[Step]]:
        """(the namespace, []) if it is this request's, else (None, a step saying why not)."""
        try:
            found = api.call(f"Reading namespace {namespace}", api.core.read_namespace, namespace)
        except NotFound:
            return None, [Step("status", f"Namespace {namespace} does not exist.")]
        if not _owned(found, target.request_id):
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
        if not _owned(found, target.request_id):
            other = (found.metadata.labels or {}).get(REQUEST_LABEL)
            whose = f"to request {other}" if other else "to something outside CloudAssist"
            raise ProviderError(f"The namespace '{namespace}' already exists and belongs {whose}: choose another name.")
        if _terminating(found):
            raise TransientProviderError(f"Namespace {namespace} is still being deleted; try again when it is gone.")
        api.call(
            f"Updating namespace {namespace}",
            api.core.patch_namespace,
            namespace,
            {
                "metadata": {
                    "labels": body["metadata"].get("labels"),
                    "annotations": body["metadata"].get("annotations"),
                }
            },
            _content_type="application/merge-patch+json",
        )
        steps.append(Step("exists", f"Namespace {namespace} already existed for this request.", {"kind": "Namespace"}))

    def _ensure(self, api: Session, body: dict[str, Any], steps: list[Step]) -> None:
        """Create a namespaced object; if it exists, merge-patch it to the planned state."""
        kind_name = body["kind"]
        kind = objects.KINDS.get(kind_name)
        if kind is None:
            raise ProviderError(f"The plan holds a {kind_name}, which the kubernetes plugin does not apply.")
        name = body["metadata"]["name"]
        namespace = body["metadata"]["namespace"]
        data = {"kind": kind_name, "name": name, "namespace": namespace}
        try:
            api.send(
                f"Creating {kind_name} {name} in namespace {namespace}",
                api.method(kind.api, "create", kind.snake),
                namespace,
                body,
            )
            steps.append(Step("create", f"Created {kind_name} {name} in namespace {namespace}.", data))
            return
        except AlreadyExists:
            pass
        api.call(
            f"Updating {kind_name} {name} in namespace {namespace}",
            api.method(kind.api, "patch", kind.snake),
            name,
            namespace,
            body,
            _content_type="application/merge-patch+json",
        )
        steps.append(Step("update", f"{kind_name} {name} already existed; set to the planned state.", data))

    def _ready(self, api: Session, target: Target, namespace: str, account: str, steps: list[Step]) -> Outcome:
        """Mint a token that expires with the request; READY with the namespace-scoped kubeconfig."""
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
            built.build_token_request(seconds),
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
