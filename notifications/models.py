"""The outbox: a Notification per recipient and event, and one Delivery per channel."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from notifications.choices import Channel, DeliveryStatus, Kind


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField()
    link = models.URLField(max_length=500, blank=True, help_text="Where to look (never a secret).")
    provision_request = models.ForeignKey(
        "provisioning.ProvisionRequest", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The API lists newest first with the pk as tiebreaker (StableOrderingFilter): both end with it.
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_recipient"),
            models.Index(fields=["recipient", "read_at", "-created_at", "-id"], name="notification_unread"),
            models.Index(fields=["kind", "provision_request", "-created_at"], name="notification_kind_request"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient}"


class Delivery(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["created_at"]
        # The sweep: pending and due (next_attempt_at passed, or never tried and older than a grace period).
        indexes = [models.Index(fields=["status", "next_attempt_at", "created_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.channel} {self.status} ({self.notification_id})"


class NotificationSettings(models.Model):
    """A user's channels per kind (missing kinds use the default) and webhook URL."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    channels = models.JSONField(default=dict, blank=True, help_text='e.g. {"expiry_warning": ["email", "webhook"]}')
    webhook_url = models.URLField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "notification settings"
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"notification settings of {self.user}"


class RoleWebhook(models.Model):
    """A role's webhook (e.g. the DevOps channel); members without their own URL use it."""

    role = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=500)

    def __str__(self) -> str:
        return f"webhook of {self.role}"


class ExpiryWarning(models.Model):
    """One row per (request, lead time, expiry) warned about: each warning goes out once."""

    provision_request = models.ForeignKey(
        "provisioning.ProvisionRequest", on_delete=models.CASCADE, related_name="expiry_warnings"
    )
    lead_minutes = models.PositiveIntegerField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provision_request", "lead_minutes", "expires_at"], name="expiry_warning_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.lead_minutes} min warning for {self.provision_request_id}"
