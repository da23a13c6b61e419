from rest_framework import serializers

from cloudassist.api.fields import LinkField
from cloudassist.api.serializers import BaseModelSerializer
from templates.models import POLICY_FIELDS, Template


class TemplateSerializer(BaseModelSerializer):
    created_by = LinkField(view_name="user-detail", read_only=True)

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


class RenderRequestSerializer(serializers.Serializer):
    parameters = serializers.JSONField(default=dict, help_text="Parameter values; defaults fill the rest.")


class RenderResultSerializer(serializers.Serializer):
    template = serializers.CharField()
    version = serializers.IntegerField()
    parameters = serializers.JSONField(help_text="The parameters after defaults were applied.")
    document = serializers.CharField(help_text="The rendered YAML document.")
