from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from provisioning.choices import ExtensionSlot, ExtensionStatus, RequestStatus, RequestType

MIN_EXTENSION_HOURS = 1
MAX_EXTENSION_HOURS = 720


class ProvisionRequest(models.Model):
    """A developer's request for an environment from a template, and its whole life."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="provision_requests"
    )
    template = models.ForeignKey("templates.Template", on_delete=models.PROTECT, related_name="provision_requests")
    template_version = models.PositiveIntegerField(help_text="The template version the snapshot was taken from.")
    template_snapshot = models.JSONField(
        default=dict,
        help_text="The template as it was at submission: name, provider, resource_type, body, parameters_schema.",
    )
    parameters = models.JSONField(default=dict, help_text="Validated parameters, defaults applied.")
    plan = models.JSONField(
        null=True,
        blank=True,
        help_text="What provisioning creates, planned from the rendered template at submission: "
        "{provider, resources: [{kind, name, summary, attributes}], spec}. Applied as it is.",
    )
    drift = models.JSONField(
        null=True,
        blank=True,
        help_text="Set by the reconcile job when a deployed environment's resources are gone: {missing, found_at}.",
    )
    description = models.TextField(blank=True)
    request_type = models.CharField(max_length=16, choices=RequestType.choices, default=RequestType.TEMPORARY)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty for permanent requests.")
    status = models.CharField(max_length=20, choices=RequestStatus.choices, default=RequestStatus.REQUESTED)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_note = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    required_approvals = models.PositiveSmallIntegerField(
        default=1,
        help_text="Approvals from different reviewers this request needs (the template's policy at submission).",
    )
    approvals = models.JSONField(
        default=list, blank=True, help_text="The approvals so far: [{user_id, username, at, note}], in order."
    )
    failure_reason = models.TextField(blank=True, help_text="Why the last provisioning or purge failed.")
    purge_after = models.DateTimeField(
        null=True, blank=True, help_text="When an expired environment is purged (expiry + the template's grace)."
    )
    review_deadline = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A request still REQUESTED times out then: submission + the review window, or its expiry if sooner.",
    )
    extension_slot = models.CharField(max_length=12, choices=ExtensionSlot.choices, default=ExtensionSlot.AVAILABLE)
    analysis_remarks = models.JSONField(default=list, blank=True, help_text="Filled by the request analysis.")
    cost_estimate = models.JSONField(null=True, blank=True, help_text="The estimate at submission or extension.")
    reservation = models.JSONField(
        null=True, blank=True, help_text="What this request holds on its requester's usage ledger (micros)."
    )
    reservation_state = models.CharField(max_length=10, default="NONE", help_text="NONE, HELD or RELEASED.")
    outputs = models.JSONField(default=dict, blank=True, help_text="Endpoint and resource ids, filled by the worker.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # Every list sorts by (created_at, pk): the pk tiebreaker belongs in the index, or MongoDB
        # sorts every matching document in memory. The sweeps use (status, expires_at).
        indexes = [
            models.Index(fields=["status", "-created_at", "-id"], name="provreq_status_created_id"),
            models.Index(fields=["requested_by", "-created_at", "-id"], name="provreq_requester_created_id"),
            models.Index(fields=["template", "-created_at", "-id"], name="provreq_template_created_id"),
            models.Index(fields=["status", "expires_at"], name="provreq_status_expires"),
            models.Index(fields=["status", "updated_at"], name="provreq_status_updated"),
            models.Index(fields=["status", "purge_after"], name="provreq_status_purge_after"),
            models.Index(fields=["status", "review_deadline"], name="provreq_status_review_deadline"),
            models.Index(fields=["-created_at", "-id"], name="provreq_created_id"),
            # The drift check walks the DEPLOYED requests by primary key.
            models.Index(fields=["status", "id"], name="provreq_status_id"),
            # The quota reconcile adds up the reservations held, per requester.
            models.Index(fields=["reservation_state", "requested_by"], name="provreq_reservation_user"),
        ]

    def __str__(self) -> str:
        return f"{self.template_id} for {self.requested_by} ({self.status})"


class ExtensionRequest(models.Model):
    """A request to extend a live environment's lifetime; one may ever be approved per request."""

    provision_request = models.ForeignKey(ProvisionRequest, on_delete=models.CASCADE, related_name="extensions")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="extension_requests"
    )
    reason = models.TextField()
    extend_by_hours = models.PositiveIntegerField(
        validators=[MinValueValidator(MIN_EXTENSION_HOURS), MaxValueValidator(MAX_EXTENSION_HOURS)]
    )
    status = models.CharField(max_length=20, choices=ExtensionStatus.choices, default=ExtensionStatus.REQUESTED)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_note = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-created_at", "-id"], name="extreq_status_created_id"),
            models.Index(fields=["provision_request", "-created_at", "-id"], name="extreq_request_created_id"),
            models.Index(fields=["requested_by", "-created_at", "-id"], name="extreq_requester_created_id"),
            models.Index(fields=["-created_at", "-id"], name="extreq_created_id"),
        ]

    def __str__(self) -> str:
        return f"+{self.extend_by_hours}h for {self.provision_request_id} ({self.status})"


class Event(models.Model):
    """The audit trail: one row per transition (and, later, per sensitive read). Never updated."""

    provision_request = models.ForeignKey(ProvisionRequest, on_delete=models.CASCADE, related_name="events")
    extension_request = models.ForeignKey(
        ExtensionRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, help_text="The actor's username at the time, or `system`.")
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["provision_request", "created_at", "id"], name="event_request_created_id"),
            models.Index(fields=["extension_request", "created_at", "id"], name="event_extension_created_id"),
            models.Index(fields=["action", "-created_at", "-id"], name="event_action_created_id"),
            models.Index(fields=["-created_at", "-id"], name="event_created_id"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.from_status or '-'} -> {self.to_status or '-'}"

    @property
    def subject(self) -> str:
        return "extension_request" if self.extension_request_id else "provision_request"


class Credential(models.Model):
    """The kubeconfig or credentials of a provisioned environment, encrypted at rest.

    Never serialised in list or detail responses; only the download endpoints decrypt it,
    and each download is an audit event.
    """

    provision_request = models.OneToOneField(ProvisionRequest, on_delete=models.CASCADE, related_name="credential")
    kind = models.CharField(max_length=16, help_text="`kubeconfig` or `credentials`.")
    ciphertext = models.TextField(help_text="Fernet token under SECRETS_KEYS.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.kind} of {self.provision_request_id}"


class OrphanState(models.TextChoices):
    FOUND = "FOUND", "Found (no live request owns it)"
    PURGED = "PURGED", "Removed by CloudAssist"
    GONE = "GONE", "No longer found"


class Orphan(models.Model):
    """A resource tagged ``managed-by: cloudassist`` that no live request owns, as the reconcile job
    found it (provisioning/reconciliation.py). One row per resource; seen again, it is updated."""

    provider = models.CharField(max_length=40, help_text="The plugin whose inventory found it.")
    kind = models.CharField(max_length=100)
    name = models.CharField(max_length=255)
    region = models.CharField(max_length=255, blank=True, help_text="A cloud region, or a Kubernetes cluster.")
    request_tag = models.CharField(
        max_length=40, blank=True, help_text="Its `cloudassist-request` tag (empty: tagged managed-by only)."
    )
    created_at = models.DateTimeField(null=True, blank=True, help_text="When the cloud says it was created.")
    first_seen = models.DateTimeField(help_text="When the reconcile job first found it orphaned.")
    last_seen = models.DateTimeField()
    usd_per_hour = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True, help_text="Its estimated hourly cost."
    )
    detail = models.JSONField(default=dict, blank=True, help_text="What the plugin needs to remove it.")
    state = models.CharField(max_length=8, choices=OrphanState.choices, default=OrphanState.FOUND)
    purged_at = models.DateTimeField(null=True, blank=True)
    purged_by = models.CharField(max_length=150, blank=True, help_text="A username, or `system`.")
    last_error = models.TextField(blank=True, help_text="Why the last removal failed.")

    class Meta:
        ordering = ["-first_seen"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "kind", "region", "name"], name="orphan_unique_resource"),
        ]
        indexes = [
            # The console's list (by state, newest first) and the sweep (per provider and state).
            models.Index(fields=["state", "-first_seen", "-id"], name="orphan_state_first_seen_id"),
            models.Index(fields=["-first_seen", "-id"], name="orphan_first_seen_id"),
            models.Index(fields=["provider", "state"], name="orphan_provider_state"),
        ]

    def __str__(self) -> str:
        where = f" in {self.region}" if self.region else ""
        return f"{self.kind} {self.name}{where} ({self.provider})"
