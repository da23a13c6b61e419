from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook (Slack-compatible)"
    IN_APP = "in_app", "In-app"


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SENT = "SENT", "Sent"
    FAILED = "FAILED", "Failed"


class Kind(models.TextChoices):
    """What a notification announces; users choose channels per kind."""

    REQUEST_APPROVED = "request_approved", "Your request was approved"
    REQUEST_REJECTED = "request_rejected", "Your request was rejected"
    REQUEST_TIMED_OUT = "request_timed_out", "A request was not reviewed in time"
    PROVISIONED = "provisioned", "Your environment is ready"
    PROVISION_FAILED = "provision_failed", "Provisioning failed"
    EXTENSION_APPROVED = "extension_approved", "Your extension was approved"
    EXTENSION_REJECTED = "extension_rejected", "Your extension was rejected"
    EXPIRY_WARNING = "expiry_warning", "Your environment expires soon"
    EXPIRED = "expired", "Your environment expired"
    PURGED = "purged", "Your environment was deleted"
    REVIEW_REQUEST = "review_request", "A request awaits review (DevOps)"
    REVIEW_EXTENSION = "review_extension", "An extension awaits review (DevOps)"
    PURGE_FAILED = "purge_failed", "A purge failed (DevOps)"
    DRIFTED = "drifted", "An environment's resources are missing"


DEFAULT_CHANNELS = [Channel.EMAIL, Channel.IN_APP]
# The review queues reach DevOps as one shared in-app item each; email only for those who opt in
# (their settings' channels for the kind, e.g. {"review_request": ["email", "in_app"]}).
QUEUE_KINDS = frozenset({Kind.REVIEW_REQUEST, Kind.REVIEW_EXTENSION})
DEFAULT_CHANNELS_BY_KIND = {kind: [Channel.IN_APP] for kind in QUEUE_KINDS}
