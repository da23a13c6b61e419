"""Pricing tables, quotas and the usage ledger.

Money and resource amounts on the ledger are integers in millionths (``*_micros``) so that
reserving and releasing the same amount always returns to exactly zero, and conditional
updates compare exact numbers.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MinValueValidator
from django.db import models

from quotas.choices import OperatingSystem, PricingModel, QuotaType

MICROS = 1_000_000


class InstancePrice(models.Model):
    instance_type = models.CharField(max_length=32, help_text="e.g. `t3.medium`.")
    region = models.CharField(max_length=32, help_text="e.g. `us-east-1`.")
    pricing_model = models.CharField(max_length=16, choices=PricingModel.choices, default=PricingModel.ON_DEMAND)
    operating_system = models.CharField(max_length=16, choices=OperatingSystem.choices, default=OperatingSystem.LINUX)
    usd_per_hour = models.DecimalField(max_digits=12, decimal_places=6, validators=[MinValueValidator(0)])
    vcpus = models.PositiveSmallIntegerField(null=True, blank=True)
    memory_gib = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    source = models.CharField(max_length=32, default="seed", help_text="`seed` or `aws-price-list`.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["region", "instance_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance_type", "region", "pricing_model", "operating_system"], name="instance_price_unique"
            )
        ]
        indexes = [models.Index(fields=["instance_type", "region"], name="instance_price_type_region")]

    def __str__(self) -> str:
        return f"{self.instance_type} {self.region} ${self.usd_per_hour}/h"


class DiskPrice(models.Model):
    disk_type = models.CharField(max_length=16, help_text="EBS volume type, e.g. `gp3`.")
    region = models.CharField(max_length=32)
    usd_per_gb_month = models.DecimalField(max_digits=12, decimal_places=6, validators=[MinValueValidator(0)])
    source = models.CharField(max_length=32, default="seed")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["region", "disk_type"]
        constraints = [models.UniqueConstraint(fields=["disk_type", "region"], name="disk_price_unique")]

    def __str__(self) -> str:
        return f"{self.disk_type} {self.region} ${self.usd_per_gb_month}/GB-month"


class ServicePrice(models.Model):
    """Flat hourly fees, such as the EKS control plane (`eks-control-plane`)."""

    service = models.CharField(max_length=32, help_text="e.g. `eks-control-plane`.")
    region = models.CharField(max_length=32)
    usd_per_hour = models.DecimalField(max_digits=12, decimal_places=6, validators=[MinValueValidator(0)])
    source = models.CharField(max_length=32, default="seed")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service", "region"]
        constraints = [models.UniqueConstraint(fields=["service", "region"], name="service_price_unique")]

    def __str__(self) -> str:
        return f"{self.service} {self.region} ${self.usd_per_hour}/h"


class Quota(models.Model):
    """Limits for a user or a role; each limit optional (unset = unlimited)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="quotas"
    )
    role = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="quotas")
    quota_type = models.CharField(max_length=16, choices=QuotaType.choices, default=QuotaType.PERMANENT)
    valid_from = models.DateTimeField(null=True, blank=True, help_text="TEMPORARY only.")
    valid_until = models.DateTimeField(null=True, blank=True, help_text="TEMPORARY only.")
    max_live_environments = models.PositiveIntegerField(null=True, blank=True)
    usd_budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    machine_hours = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    disk_gb_hours = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Set when the quota was ended early.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "ended_at"], name="quota_user_ended"),
            models.Index(fields=["role", "ended_at"], name="quota_role_ended"),
        ]

    def __str__(self) -> str:
        holder = self.user or self.role
        return f"{self.get_quota_type_display()} quota for {holder}"


class UsageLedger(models.Model):
    """What each user's outstanding requests hold against their quota (one document per user).

    Only ever changed by conditional ``F()`` updates (see quotas/services.py); it can be
    recomputed from the requests' own reservations at any time.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_ledger")
    live_environments = models.IntegerField(default=0)
    usd_micros = models.BigIntegerField(default=0)
    machine_hours_micros = models.BigIntegerField(default=0)
    disk_gb_hours_micros = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"usage of {self.user}"
