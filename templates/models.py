from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from templates.choices import ResourceType

MAX_LIFETIME_HOURS = 24 * 365
# The approval and lifecycle policy's own fields (besides the lifetimes and auto-approval).
POLICY_FIELDS = (
    "review_timeout_hours",
    "max_total_lifetime_hours",
    "purge_grace_hours",
    "required_approvals",
    "required_approvals_above_usd",
    "requester_can_retry",
)
# What a template version keeps besides its body and schema: every policy field, so that a change
# of policy is a version in the history and a rollback restores it.
VERSIONED_POLICY_FIELDS = (
    "default_lifetime_hours",
    "max_lifetime_hours",
    "auto_approve",
    "auto_approve_max_usd",
    *POLICY_FIELDS,
)
DECIMAL_POLICY_FIELDS = ("auto_approve_max_usd", "required_approvals_above_usd")


def policy_of(template) -> dict:
    """The template's policy fields, JSON-ready (amounts as strings, so they round-trip exactly)."""
    return {
        name: (None if value is None else str(value)) if name in DECIMAL_POLICY_FIELDS else value
        for name in VERSIONED_POLICY_FIELDS
        for value in [getattr(template, name)]
    }


def policy_values(policy: dict) -> dict:
    """A stored policy back as field values (amounts as Decimals); fields it lacks are left out."""
    return {
        name: (None if policy[name] is None else Decimal(policy[name]))
        if name in DECIMAL_POLICY_FIELDS
        else policy[name]
        for name in VERSIONED_POLICY_FIELDS
        if name in policy
    }


class Template(models.Model):
    """A parameterised resource template: a Jinja2 body and a JSON Schema for its parameters."""

    id = models.SlugField(primary_key=True, max_length=63, help_text="Slug id, e.g. `basic-eks-cluster`.")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    resource_type = models.CharField(max_length=32, choices=ResourceType.choices)
    provider = models.CharField(
        max_length=32, help_text="The plugin that plans, prices and applies it (providers/: aws-eks, kubernetes, ...)."
    )
    body = models.TextField(help_text="Jinja2 text with `{{ placeholders }}`; must render to YAML.")
    parameters_schema = models.JSONField(default=dict, blank=True, help_text="JSON Schema (2020-12) of the parameters.")
    default_lifetime_hours = models.PositiveIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(MAX_LIFETIME_HOURS)]
    )
    max_lifetime_hours = models.PositiveIntegerField(
        default=168, validators=[MinValueValidator(1), MaxValueValidator(MAX_LIFETIME_HOURS)]
    )
    is_active = models.BooleanField(default=True)
    auto_approve = models.BooleanField(
        default=False,
        help_text="Let the analysis approve TEMPORARY requests that fit the quota and the cost threshold.",
    )
    auto_approve_max_usd = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Cost threshold for auto-approval (USD per request); empty = never auto-approve.",
    )
    # The approval and lifecycle policy (provisioning applies it; the README's "Policies" says how).
    review_timeout_hours = models.PositiveIntegerField(
        default=72,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_LIFETIME_HOURS)],
        help_text="A request still waiting for review after this many hours times out (its hold is released).",
    )
    max_total_lifetime_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_LIFETIME_HOURS)],
        help_text="Cap on the whole lease, submission to expiry, extension included; empty = the maximum lifetime.",
    )
    purge_grace_hours = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_LIFETIME_HOURS)],
        help_text="Hours an expired environment is kept before it is purged (DevOps may still extend it meanwhile).",
    )
    required_approvals = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="Approvals from different reviewers a request needs (four-eyes: 2).",
    )
    required_approvals_above_usd = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Only requests estimated above this (USD) need the required approvals; empty = every request.",
    )
    requester_can_retry = models.BooleanField(
        default=False, help_text="Let the requester retry a failed provisioning (DevOps always can)."
    )
    version = models.PositiveIntegerField(
        default=1, editable=False, help_text="Bumped when body, schema or policy change."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The slug id is the primary key, stored beside _id under a partial unique index that
            # equality queries cannot use: this plain one serves every lookup by id.
            models.Index(fields=["id"], name="template_id_equality"),
            models.Index(fields=["name", "id"], name="template_name_id"),
            models.Index(fields=["is_active", "name", "id"], name="template_active_name_id"),
            models.Index(fields=["resource_type"], name="template_resource_type"),
            models.Index(fields=["provider"], name="template_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class TemplateVersion(models.Model):
    """Every definition (body, parameters schema and policy) a template has had, for history, diff and rollback.

    Written by templates.services with each version bump, in the same transaction."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    body = models.TextField()
    parameters_schema = models.JSONField(default=dict, blank=True)
    policy = models.JSONField(
        null=True,
        blank=True,
        help_text="The policy fields (lifetimes, auto-approval, review, lease and purge); null before they were kept.",
    )
    action = models.CharField(max_length=32, help_text="create, update, rollback to N, or recorded (before history)")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        indexes = [models.Index(fields=["template", "-version"], name="templateversion_history")]
        constraints = [models.UniqueConstraint(fields=["template", "version"], name="template_version_unique")]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.version}"
