"""The outbox in the admin: notifications with their deliveries, failed deliveries to resend,
and the role webhooks (e.g. the DevOps Slack channel)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from cloudassist import roles
from cloudassist.admin import ReadOnlyAdminMixin
from notifications import services
from notifications.models import Delivery, Notification, NotificationSettings, RoleWebhook


class DeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Delivery
    fields = ["channel", "status", "attempts", "last_error", "next_attempt_at", "sent_at"]
    readonly_fields = fields
    extra = 0


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "recipient", "kind", "title", "read_at"]
    list_filter = ["kind"]
    list_select_related = ["recipient"]
    search_fields = ["recipient__username", "title"]
    fields = ["recipient", "kind", "title", "body", "link", "provision_request", "created_at", "read_at"]
    readonly_fields = fields
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "notification", "channel", "status", "attempts", "last_error", "sent_at"]
    list_filter = ["status", "channel"]
    list_select_related = ["notification__recipient"]
    search_fields = ["notification__recipient__username", "last_error"]
    fields = ["notification", "channel", "status", "attempts", "last_error", "next_attempt_at", "sent_at"]
    readonly_fields = fields
    actions = ["resend_selected"]

    def has_resend_permission(self, request) -> bool:
        return roles.is_reviewer(request.user)

    @admin.action(description="Resend selected deliveries", permissions=["resend"])
    def resend_selected(self, request, queryset):
        count = 0
        for delivery in queryset:
            services.resend(delivery=delivery)
            count += 1
        self.message_user(request, f"{count} deliver{'y' if count == 1 else 'ies'} queued again.", messages.SUCCESS)


class RoleWebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = RoleWebhook
        fields = ["role", "url"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            services.check_webhook_url(url, field="url")
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["url"]) from None
        return url


@admin.register(RoleWebhook)
class RoleWebhookAdmin(admin.ModelAdmin):
    form = RoleWebhookForm
    list_display = ["role", "url"]
    list_select_related = ["role"]


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "webhook_url", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ["user", "channels", "webhook_url", "updated_at"]
    readonly_fields = fields
