from django.db.models import QuerySet

from cloudassist import roles
from provisioning.models import Credential, Event, ExtensionRequest, ProvisionRequest


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
