from collections.abc import Iterable

from django.db import connection
from django.db.models import QuerySet

from cloudassist import roles
from provisioning.models import Credential, Event, ExtensionRequest, ProvisionRequest
from provisioning.policies import SNAPSHOT_KEY

# What no list page shows, and the bulk of a stored request: the template's body and schema at
# submission (~40% of the bytes) and the worker's outputs. Both are on the detail.
LIST_DEFERRED = ("template_snapshot", "outputs")


def request_list_for(user) -> QuerySet[ProvisionRequest]:
    """``requests_for`` as list pages load it: without ``LIST_DEFERRED`` (projected out in MongoDB).
    A row that needs its template's name or policy at submission gets them from
    ``attach_snapshot_parts`` (never by reloading the deferred snapshot, one query per row)."""
    return requests_for(user).defer(*LIST_DEFERRED)


def attach_snapshot_parts(rows: Iterable[ProvisionRequest]) -> list[ProvisionRequest]:
    """Set ``snapshot_name`` and ``snapshot_policy`` (what provisioning/policies.py reads) on rows
    loaded without their snapshot: one query for them all, projecting those two subfields."""
    rows = list(rows)
    if not rows:
        return rows
    fields = {"template_snapshot.name": 1, f"template_snapshot.{SNAPSHOT_KEY}": 1}
    collection = connection.get_collection(ProvisionRequest._meta.db_table)
    found = {
        doc["_id"]: doc.get("template_snapshot") or {}
        for doc in collection.find({"_id": {"$in": [row.pk for row in rows]}}, fields)
    }
    for row in rows:
        snapshot = found.get(row.pk, {})
        row.snapshot_name = snapshot.get("name")
        row.snapshot_policy = snapshot.get(SNAPSHOT_KEY)
    return rows


def requests_for(user) -> QuerySet[ProvisionRequest]:
    """DevOps and admins see every request; everyone else only their own. No joins: the API
    loads the related rows of a page by primary key (cloudassist.api.mixins.RelatedByPkMixin)."""
    queryset = ProvisionRequest.objects.all()
    if roles.is_reviewer(user):
        return queryset
    return queryset.filter(requested_by=user)


def extensions_for(user) -> QuerySet[ExtensionRequest]:
    queryset = ExtensionRequest.objects.all()
    if roles.is_reviewer(user):
        return queryset
    return queryset.filter(requested_by=user)


def events_for(*, request: ProvisionRequest | None = None, extension: ExtensionRequest | None = None):
    """The audit trail of a provision request (its extensions included) or of one extension."""
    if extension is not None:
        return Event.objects.filter(extension_request=extension).order_by("created_at", "pk")
    return Event.objects.filter(provision_request=request).order_by("created_at", "pk")


def secret_kinds(request_ids) -> dict:
    """Which secret (``kubeconfig`` or ``credentials``) each of these requests has, in one query;
    requests without one are missing. Never the secret itself."""
    ids = list(request_ids)
    if not ids:
        return {}
    rows = (
        Credential.objects.filter(provision_request_id__in=ids).order_by().values_list("provision_request_id", "kind")
    )
    return dict(rows)
