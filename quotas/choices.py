from django.db import models


class PricingModel(models.TextChoices):
    ON_DEMAND = "ON_DEMAND", "On-demand"


class OperatingSystem(models.TextChoices):
    LINUX = "Linux", "Linux"


class QuotaType(models.TextChoices):
    TEMPORARY = "TEMPORARY", "Temporary (valid_from to valid_until)"
    PERMANENT = "PERMANENT", "Permanent"


class ReservationState(models.TextChoices):
    """What a provision request holds against its requester's usage ledger."""

    NONE = "NONE", "Nothing reserved"
    HELD = "HELD", "Reserved"
    RELEASED = "RELEASED", "Released"
