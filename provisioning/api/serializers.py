from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cloudassist.api.fields import IdOrHyperlinkField, LinkField, cached_url, related_list_url
from cloudassist.api.serializers import BaseModelSerializer, ExpandMixin, StrictFieldsMixin, UserSummarySerializer
from provisioning import selectors, transitions
from provisioning.choices import LIVE, RequestStatus, RequestType
from provisioning.models import MAX_EXTENSION_HOURS, MIN_EXTENSION_HOURS, Event, ExtensionRequest, ProvisionRequest
from templates import selectors as template_selectors
from templates.api.serializers import PlanSerializer, TemplateSerializer, plan_data
from templates.models import Template

NOTE_MAX_LENGTH = 5000
EXTENSION_UNAVAILABLE = "UNAVAILABLE"  # shown instead of the slot once the environment is no longer live


def _actions_for(subject, context) -> list[str]:
    """The moves the current user may make on ``subject`` right now."""
    request = context.get("request")
    return transitions.permitted_actions(subject, user=getattr(request, "user", None))


class ProvisionRequestSerializer(ExpandMixin, BaseModelSerializer):
    requested_by = LinkField(view_name="user-detail", read_only=True)
    reviewed_by = LinkField(view_name="user-detail", read_only=True)
    template = LinkField(view_name="template-detail", read_only=True)
    extension = serializers.SerializerMethodField(
        help_text="The one-time extension: AVAILABLE, PENDING or USED; UNAVAILABLE once the environment is no "
        "longer live (nothing left to extend)."
    )
    approvals = serializers.SerializerMethodField(
        help_text="Who approved so far, in order: [{username, at, note}] (system = auto-approval)."
    )
    approval_progress = serializers.SerializerMethodField(help_text='E.g. "1 of 2 approvals".')
    actions = serializers.SerializerMethodField(help_text="What you may do with this request now.")
    events = serializers.SerializerMethodField(help_text="Its audit trail.")
    extensions = serializers.SerializerMethodField(help_text="Its extension requests.")
    plan = serializers.SerializerMethodField(
        help_text="What it creates (provider, resources with a summary each, and on the detail the spec the "
        "plugin applies), planned at submission; null for requests from before plans were stored."
    )

    expandable = {
        "requested_by": lambda: UserSummarySerializer,
        "reviewed_by": lambda: UserSummarySerializer,
        "template": lambda: TemplateSerializer,
    }

    class Meta:
        model = ProvisionRequest
        fields = [
            "url",
            "id",
            "requested_by",
            "template",
            "template_version",
            "template_snapshot",
            "parameters",
            "description",
            "request_type",
            "expires_at",
            "status",
            "reviewed_by",
            "review_note",
            "reviewed_at",
            "failure_reason",
            "required_approvals",
            "approvals",
            "approval_progress",
            "review_deadline",
            "purge_after",
            "extension",
            "analysis_remarks",
            "plan",
            "cost_estimate",
            "outputs",
            "drift",
            "actions",
            "events",
            "extensions",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        view = self.context.get("view")
        if getattr(view, "action", None) == "list":
            for name in selectors.LIST_DEFERRED:  # the template's body and schema, the outputs: on the detail
                fields.pop(name)
        return fields

    @extend_schema_field(PlanSerializer(allow_null=True))
    def get_plan(self, obj) -> dict | None:
        view = self.context.get("view")
        return plan_data(obj.plan, spec=getattr(view, "action", None) != "list")

    def get_approvals(self, obj) -> list[dict]:
        return [
            {"username": entry.get("username"), "at": entry.get("at"), "note": entry.get("note", "")}
            for entry in obj.approvals or []
        ]

    def get_approval_progress(self, obj) -> str:
        return f"{len(obj.approvals or [])} of {obj.required_approvals} approvals"

    def get_actions(self, obj) -> list[str]:
        return _actions_for(obj, self.context)

    def get_extension(self, obj) -> str:
        if obj.status in LIVE or obj.status == RequestStatus.REQUESTED:
            return obj.extension_slot
        return EXTENSION_UNAVAILABLE

    def get_events(self, obj) -> str:
        return cached_url(self.context.get("request"), "provisionrequest-events", "pk", obj.pk)

    def get_extensions(self, obj) -> str:
        return related_list_url(self.context.get("request"), "extensionrequest-list", f"provision_request={obj.pk}")


class CachedTemplateField(IdOrHyperlinkField):
    """The template as it is now, from the process's template cache (templates/selectors.py)."""

    def lookup(self, queryset, value):
        return template_selectors.template_by_id(value)


class ProvisionRequestCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    resource_fields = tuple(ProvisionRequestSerializer.Meta.fields)

    template = CachedTemplateField(
        noun="template",
        view_name="template-detail",
        queryset=Template.objects.all(),
        help_text="The template's id (e.g. `basic-eks-cluster`) or URL.",
    )
    parameters = serializers.JSONField(default=dict, help_text="Validated against the template's parameters_schema.")
    description = serializers.CharField(default="", allow_blank=True, max_length=NOTE_MAX_LENGTH)
    request_type = serializers.ChoiceField(choices=RequestType.choices, default=RequestType.TEMPORARY)
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="TEMPORARY only: when to purge it; the template's default lifetime when omitted.",
    )


class ProvisionRequestUpdateSerializer(StrictFieldsMixin, serializers.Serializer):
    resource_fields = tuple(ProvisionRequestSerializer.Meta.fields)

    description = serializers.CharField(allow_blank=True, max_length=NOTE_MAX_LENGTH)


class NoteSerializer(StrictFieldsMixin, serializers.Serializer):
    note = serializers.CharField(
        default="", allow_blank=True, max_length=NOTE_MAX_LENGTH, help_text="Shown to the requester."
    )


class EventSerializer(BaseModelSerializer):
    subject = serializers.CharField(read_only=True, help_text="`provision_request` or `extension_request`.")
    actor = serializers.CharField(source="actor_name", read_only=True, help_text="A username, or `system`.")
    extension_request = LinkField(view_name="extensionrequest-detail", read_only=True)

    class Meta:
        model = Event
        fields = ["id", "subject", "extension_request", "actor", "action", "from_status", "to_status", "note", "data"]
        fields += ["created_at"]
        read_only_fields = fields


class ExtensionRequestSerializer(ExpandMixin, BaseModelSerializer):
    provision_request = LinkField(view_name="provisionrequest-detail", read_only=True)
    requested_by = LinkField(view_name="user-detail", read_only=True)
    reviewed_by = LinkField(view_name="user-detail", read_only=True)
    actions = serializers.SerializerMethodField(help_text="What you may do with this extension request now.")

    expandable = {
        "provision_request": lambda: ProvisionRequestSerializer,
        "requested_by": lambda: UserSummarySerializer,
        "reviewed_by": lambda: UserSummarySerializer,
    }

    class Meta:
        model = ExtensionRequest
        fields = [
            "url",
            "id",
            "provision_request",
            "requested_by",
            "reason",
            "extend_by_hours",
            "status",
            "reviewed_by",
            "review_note",
            "reviewed_at",
            "actions",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_actions(self, obj) -> list[str]:
        return _actions_for(obj, self.context)


class ExtensionRequestCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    resource_fields = tuple(ExtensionRequestSerializer.Meta.fields)

    provision_request = IdOrHyperlinkField(
        noun="provision request",
        view_name="provisionrequest-detail",
        scope=lambda request: selectors.requests_for(request.user),
        help_text="The id (or URL) of your provision request.",
    )
    reason = serializers.CharField(max_length=NOTE_MAX_LENGTH, help_text="Why you need more time.")
    extend_by_hours = serializers.IntegerField(min_value=MIN_EXTENSION_HOURS, max_value=MAX_EXTENSION_HOURS)


class ExtendExpiredSerializer(StrictFieldsMixin, serializers.Serializer):
    resource_fields = tuple(ProvisionRequestSerializer.Meta.fields)

    extend_by_hours = serializers.IntegerField(
        min_value=MIN_EXTENSION_HOURS, max_value=MAX_EXTENSION_HOURS, help_text="From now, within the lease cap."
    )
    note = serializers.CharField(default="", allow_blank=True, max_length=NOTE_MAX_LENGTH, help_text="Audited.")
