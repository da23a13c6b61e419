"""Statuses, request types and audit actions, plus named groups of statuses."""

from django.db import models


class RequestStatus(models.TextChoices):
    REQUESTED = "REQUESTED", "Requested (pending review)"
    REVOKED = "REVOKED", "Revoked by the requester"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"
    TIMED_OUT = "TIMED_OUT", "Not reviewed in time"
    INITIATED = "INITIATED", "Provisioning"
    DEPLOYED = "DEPLOYED", "Deployed"
    FAILED = "FAILED", "Provisioning failed"
    EXPIRED = "EXPIRED", "Expired"
    PURGE_INITIATED = "PURGE_INITIATED", "Purging"
    PURGED = "PURGED", "Purged"
    PURGE_FAILED = "PURGE_FAILED", "Purge failed"


class ExtensionStatus(models.TextChoices):
    REQUESTED = "REQUESTED", "Requested (pending review)"
    REVOKED = "REVOKED", "Revoked by the requester"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"


class RequestType(models.TextChoices):
    TEMPORARY = "TEMPORARY", "Temporary (expires)"
    PERMANENT = "PERMANENT", "Permanent (DevOps or admin approval only)"


class ExtensionSlot(models.TextChoices):
    """The one-time extension of a provision request: free, being reviewed, or used up."""

    AVAILABLE = "AVAILABLE", "Available"
    PENDING = "PENDING", "An extension request is pending review"
    USED = "USED", "The one extension was approved"


# Environments that exist or are about to: extensions are possible, expiry applies.
LIVE = frozenset({RequestStatus.APPROVED, RequestStatus.INITIATED, RequestStatus.DEPLOYED})
