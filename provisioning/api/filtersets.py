from django_filters import rest_framework as filters

from cloudassist.api.filters import ObjectIdFilter, UsernameFilter
from provisioning.choices import ExtensionStatus, RequestStatus, RequestType
from provisioning.models import ExtensionRequest, ProvisionRequest


class ProvisionRequestFilterSet(filters.FilterSet):
    # distinct=False: a multiple choice on one field cannot duplicate rows, and distinct() is a
    # $group over every field of every matching document on MongoDB.
    status = filters.MultipleChoiceFilter(
        choices=RequestStatus.choices, distinct=False, help_text="Repeat for several."
    )
    request_type = filters.ChoiceFilter(choices=RequestType.choices)
    template = filters.CharFilter(field_name="template_id", help_text="Template id, e.g. `basic-eks-cluster`.")
    requested_by = ObjectIdFilter(field_name="requested_by_id", help_text="The requester's user id.")
    requested_by_username = UsernameFilter(field_name="requested_by_id", help_text="The requester's username.")
    created = filters.IsoDateTimeFromToRangeFilter(
        field_name="created_at", help_text="`created_after` / `created_before` (ISO 8601)."
    )
    expires = filters.IsoDateTimeFromToRangeFilter(
        field_name="expires_at", help_text="`expires_after` / `expires_before` (ISO 8601)."
    )

    class Meta:
        model = ProvisionRequest
        fields = ["status", "request_type", "template", "requested_by", "requested_by_username", "created", "expires"]


class ExtensionRequestFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(
        choices=ExtensionStatus.choices, distinct=False, help_text="Repeat for several."
    )
    provision_request = ObjectIdFilter(field_name="provision_request_id")
    requested_by = ObjectIdFilter(field_name="requested_by_id")
    created = filters.IsoDateTimeFromToRangeFilter(field_name="created_at")

    class Meta:
        model = ExtensionRequest
        fields = ["status", "provision_request", "requested_by", "created"]
