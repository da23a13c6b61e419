from rest_framework import serializers

import providers
from cloudassist.api.fields import LinkField
from cloudassist.api.serializers import BaseModelSerializer
from templates import selectors
from templates.models import POLICY_FIELDS, Template


class TemplateSerializer(BaseModelSerializer):
    created_by = LinkField(view_name="user-detail", read_only=True)
    provider = serializers.ChoiceField(
        choices=providers.choices(), help_text="The plugin that plans, prices and applies the rendered body."
    )
    available = serializers.SerializerMethodField(help_text="Whether it can be requested now (its provider is set up).")
    unavailable_reason = serializers.SerializerMethodField(
        help_text="Why it cannot be requested now, naming the setting to set; empty when available."
    )

    class Meta:
        model = Template
        fields = [
            "url",
            "id",
            "name",
            "description",
            "resource_type",
            "provider",
            "body",
            "parameters_schema",
            "default_lifetime_hours",
            "max_lifetime_hours",
            "is_active",
            "auto_approve",
            "auto_approve_max_usd",
            "available",
            "unavailable_reason",
            *POLICY_FIELDS,
            "version",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["version", "created_by", "created_at", "updated_at"]
        extra_kwargs = {"id": {"read_only": False, "required": True}}

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["id"].read_only = True  # the slug id is fixed once created
        return fields

    def _unavailable_reason(self, template: Template) -> str:
        """Asked once per provider per response (a list has many templates, few providers)."""
        reasons = self.context.setdefault("_unavailable_by_provider", {})
        if template.provider not in reasons:
            reasons[template.provider] = selectors.unavailable_reason(template) or ""
        return reasons[template.provider]

    def get_available(self, template: Template) -> bool:
        return not self._unavailable_reason(template)

    def get_unavailable_reason(self, template: Template) -> str:
        return self._unavailable_reason(template)


class PlannedResourceSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text='E.g. "EKS cluster", "managed node group", "S3 bucket", "NetworkPolicy".')
    name = serializers.CharField(help_text="As it is (or will be) named, the request's suffix included.")
    summary = serializers.CharField(help_text='In words and numbers: "managed node group ng-spot: 3 x t3.large spot".')
    attributes = serializers.JSONField(help_text="Its key attributes.")


class PlanSerializer(serializers.Serializer):
    """What a request creates: planned from the rendered template at submission, applied as it is."""

    provider = serializers.CharField(help_text="The plugin that applies it.")
    resources = PlannedResourceSerializer(many=True)
    spec = serializers.JSONField(
        required=False,
        help_text="What the plugin applies (the document with its defaults and final names); on the detail only.",
    )


def plan_data(plan: dict | None, *, spec: bool = True) -> dict | None:
    """A stored plan (``Plan.as_dict()``) as the API shows it; without ``spec`` in lists."""
    if not isinstance(plan, dict):
        return None
    data = {
        "provider": plan.get("provider", ""),
        "resources": [
            {
                "kind": resource.get("kind", ""),
                "name": resource.get("name", ""),
                "summary": resource.get("summary", ""),
                "attributes": resource.get("attributes") or {},
            }
            for resource in plan.get("resources") or []
        ],
    }
    if spec:
        data["spec"] = plan.get("spec") or {}
    return data


class RenderRequestSerializer(serializers.Serializer):
    parameters = serializers.JSONField(default=dict, help_text="Parameter values; defaults fill the rest.")


class RenderResultSerializer(serializers.Serializer):
    template = serializers.CharField()
    version = serializers.IntegerField()
    parameters = serializers.JSONField(help_text="The parameters after defaults were applied.")
    document = serializers.CharField(help_text="The rendered YAML document.")


class PlanRequestSerializer(serializers.Serializer):
    parameters = serializers.JSONField(default=dict, help_text="Parameter values; defaults fill the rest.")
    lifetime_hours = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Hours to price; the template's default lifetime when omitted, at most its max_lifetime_hours.",
    )


class PlanResultSerializer(serializers.Serializer):
    template = serializers.CharField()
    template_version = serializers.IntegerField()
    parameters = serializers.JSONField(help_text="The parameters after defaults were applied.")
    plan = PlanSerializer(help_text="What a request would create (names carry a placeholder suffix until submitted).")
    estimate = serializers.JSONField(help_text="hours, usd, machine_hours, disk_gb_hours, line_items, notes.")
