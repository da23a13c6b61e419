from rest_framework import serializers

from cloudassist.api.fields import LinkField
from cloudassist.api.serializers import BaseModelSerializer, StrictFieldsMixin
from notifications.choices import DEFAULT_CHANNELS, Channel, Kind
from notifications.models import Delivery, Notification, NotificationSettings


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["channel", "status", "attempts", "last_error", "sent_at"]
        read_only_fields = fields


class NotificationSerializer(BaseModelSerializer):
    read = serializers.SerializerMethodField()
    deliveries = DeliverySerializer(many=True, read_only=True, source="delivery_list")
    provision_request = LinkField(view_name="provisionrequest-detail", read_only=True)

    class Meta:
        model = Notification
        fields = [
            "url",
            "id",
            "kind",
            "title",
            "body",
            "link",
            "provision_request",
            "read",
            "read_at",
            "deliveries",
            "created_at",
        ]
        read_only_fields = fields

    def get_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


class ChannelsField(serializers.DictField):
    """``{"<kind>": ["email", "webhook", "in_app"], ...}``; unknown kinds or channels are a 400."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        errors = {}
        for kind, chosen in data.items():
            if kind not in Kind.values:
                errors[kind] = [f"Unknown kind; use one of: {', '.join(Kind.values)}."]
            elif not isinstance(chosen, list) or any(name not in Channel.values for name in chosen):
                errors[kind] = [f"Expected a list of channels from: {', '.join(Channel.values)}."]
        if errors:
            raise serializers.ValidationError(errors)
        return {kind: list(dict.fromkeys(chosen)) for kind, chosen in data.items()}


class NotificationSettingsSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    channels = ChannelsField(
        required=False,
        help_text="Channels per kind; kinds left out use email and in-app. In-app always lists every notification.",
    )
    defaults = serializers.SerializerMethodField(help_text="The channels of kinds not set in `channels`.")
    kinds = serializers.SerializerMethodField(help_text="Every kind, with what it announces.")
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Null until first changed.")

    class Meta:
        model = NotificationSettings
        fields = ["channels", "webhook_url", "defaults", "kinds", "updated_at"]
        read_only_fields = ["updated_at"]

    def get_defaults(self, settings_row) -> list[str]:
        return list(DEFAULT_CHANNELS)

    def get_kinds(self, settings_row) -> dict[str, str]:
        return {kind.value: kind.label for kind in Kind}

    def validate_webhook_url(self, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise serializers.ValidationError("Must be an http(s) URL.")
        return value
