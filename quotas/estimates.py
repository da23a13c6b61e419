"""Price a template, its parameters and a lifetime: line items and totals in USD,
machine-hours and disk GB-hours.

One estimator per provider reads the parameters it understands. A price that is missing
from the tables (unknown instance type or region) is a ValidationError naming the
parameter, never a zero price.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from quotas.choices import OperatingSystem, PricingModel
from quotas.models import MICROS, DiskPrice, InstancePrice, ServicePrice

HOURS_PER_MONTH = Decimal(730)  # AWS prices GB-months over 730 hours
CENT = Decimal("0.01")
SIX_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class LineItem:
    description: str
    quantity: Decimal
    unit: str
    hours: Decimal
    usd_rate: Decimal
    rate_unit: str
    usd: Decimal
    machine_hours: Decimal = Decimal(0)
    disk_gb_hours: Decimal = Decimal(0)


@dataclass
class Estimate:
    hours: Decimal
    line_items: list[LineItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def usd(self) -> Decimal:
        return sum((item.usd for item in self.line_items), Decimal(0))

    @property
    def machine_hours(self) -> Decimal:
        return sum((item.machine_hours for item in self.line_items), Decimal(0))

    @property
    def disk_gb_hours(self) -> Decimal:
        return sum((item.disk_gb_hours for item in self.line_items), Decimal(0))

    def reservation(self) -> dict[str, int]:
        """What a request with this estimate holds on the usage ledger (integer micros)."""
        return {
            "live_environments": 1,
            "usd_micros": to_micros(self.usd),
            "machine_hours_micros": to_micros(self.machine_hours),
            "disk_gb_hours_micros": to_micros(self.disk_gb_hours),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as strings, totals rounded to the cent / 1e-6."""
        return {
            "hours": _text(self.hours),
            "usd": f"{self.usd.quantize(CENT, ROUND_HALF_UP):f}",
            "usd_exact": _text(self.usd.quantize(SIX_PLACES, ROUND_HALF_UP)),
            "machine_hours": _text(self.machine_hours),
            "disk_gb_hours": _text(self.disk_gb_hours),
            "line_items": [
                {key: _text(value) if isinstance(value, Decimal) else value for key, value in asdict(item).items()}
                for item in self.line_items
            ],
            "notes": list(self.notes),
        }


def to_micros(value: Decimal) -> int:
    return int((value * MICROS).to_integral_value(ROUND_HALF_UP))


def from_micros(value: int) -> Decimal:
    return (Decimal(value) / MICROS).quantize(SIX_PLACES)


def _text(value: Decimal) -> str:
    value = value.quantize(SIX_PLACES, ROUND_HALF_UP).normalize()
    return f"{value:f}"


# --- price lookups ------------------------------------------------------------------------


def _missing(parameter: str, message: str) -> ValidationError:
    return ValidationError({f"parameters.{parameter}": [message]})


def instance_price(instance_type: str, region: str, *, parameter: str = "instance_type") -> InstancePrice:
    price = InstancePrice.objects.filter(
        instance_type=instance_type,
        region=region,
        pricing_model=PricingModel.ON_DEMAND,
        operating_system=OperatingSystem.LINUX,
    ).first()
    if price is None:
        if not InstancePrice.objects.filter(region=region).exists():
            raise _missing("region", f"No prices are known for region '{region}'.")
        raise _missing(parameter, f"No price is known for instance type '{instance_type}' in {region}.")
    return price


def disk_price(disk_type: str, region: str) -> DiskPrice:
    price = DiskPrice.objects.filter(disk_type=disk_type, region=region).first()
    if price is None:
        raise _missing("region", f"No price is known for {disk_type} volumes in region '{region}'.")
    return price


def service_price(service: str, region: str) -> ServicePrice:
    price = ServicePrice.objects.filter(service=service, region=region).first()
    if price is None:
        raise _missing("region", f"No price is known for {service} in region '{region}'.")
    return price


# --- line items ---------------------------------------------------------------------------


def _instances(count: int, instance_type: str, region: str, hours: Decimal, **lookup) -> LineItem:
    price = instance_price(instance_type, region, **lookup)
    quantity = Decimal(count)
    return LineItem(
        description=f"{count} x {instance_type} ({region}, on-demand Linux)",
        quantity=quantity,
        unit="instances",
        hours=hours,
        usd_rate=price.usd_per_hour,
        rate_unit="USD per instance-hour",
        usd=quantity * hours * price.usd_per_hour,
        machine_hours=quantity * hours,
    )


def _volumes(count: int, size_gb: int, disk_type: str, region: str, hours: Decimal) -> LineItem:
    price = disk_price(disk_type, region)
    gigabytes = Decimal(count * size_gb)
    return LineItem(
        description=f"{count} x {size_gb} GB {disk_type} ({region})",
        quantity=gigabytes,
        unit="GB",
        hours=hours,
        usd_rate=price.usd_per_gb_month,
        rate_unit="USD per GB-month (730 h)",
        usd=gigabytes * hours * price.usd_per_gb_month / HOURS_PER_MONTH,
        disk_gb_hours=gigabytes * hours,
    )


# --- estimators by provider ----------------------------------------------------------------


def _aws_eks(parameters: dict, hours: Decimal) -> Estimate:
    region = parameters.get("region", "us-east-1")
    nodes = int(parameters.get("desired_capacity", 1))
    control_plane = service_price("eks-control-plane", region)
    estimate = Estimate(hours=hours)
    estimate.line_items.append(
        LineItem(
            description=f"EKS control plane ({region})",
            quantity=Decimal(1),
            unit="clusters",
            hours=hours,
            usd_rate=control_plane.usd_per_hour,
            rate_unit="USD per cluster-hour",
            usd=hours * control_plane.usd_per_hour,
        )
    )
    estimate.line_items.append(_instances(nodes, parameters.get("instance_type", "t3.medium"), region, hours))
    volume = int(parameters.get("volume_size", 20))
    estimate.line_items.append(_volumes(nodes, volume, settings.EKS_NODE_VOLUME_TYPE, region, hours))
    return estimate


def _aws_ec2(parameters: dict, hours: Decimal) -> Estimate:
    region = parameters.get("region", "us-east-1")
    count = int(parameters.get("count", 1))
    estimate = Estimate(hours=hours)
    estimate.line_items.append(_instances(count, parameters.get("instance_type", "t3.micro"), region, hours))
    volume = int(parameters.get("volume_size", 8))
    estimate.line_items.append(_volumes(count, volume, parameters.get("volume_type", "gp3"), region, hours))
    return estimate


def _kubernetes(parameters: dict, hours: Decimal) -> Estimate:
    """A namespace on the shared cluster costs its CPU share of the cluster's reference node."""
    reference_type, region = settings.SHARED_CLUSTER_NODE_TYPE, settings.SHARED_CLUSTER_REGION
    price = instance_price(reference_type, region)
    vcpus = Decimal(price.vcpus or 2)
    cores = Decimal(parameters.get("cpu_limit", 1))
    share = cores / vcpus
    estimate = Estimate(hours=hours)
    estimate.line_items.append(
        LineItem(
            description=f"{cores} vCPU on the shared cluster ({share:.4g} x {reference_type}, {region})",
            quantity=share,
            unit="machines",
            hours=hours,
            usd_rate=price.usd_per_hour,
            rate_unit="USD per machine-hour",
            usd=share * hours * price.usd_per_hour,
            machine_hours=share * hours,
        )
    )
    return estimate


def _not_estimated(parameters: dict, hours: Decimal) -> Estimate:
    return Estimate(hours=hours, notes=["This resource is billed by use and is not estimated in advance."])


ESTIMATORS: dict[str, Callable[[dict, Decimal], Estimate]] = {
    "aws-eks": _aws_eks,
    "aws-ec2": _aws_ec2,
    "kubernetes": _kubernetes,
    "aws-s3": _not_estimated,
    "noop": _not_estimated,
}


def estimate(*, provider: str, parameters: dict, hours: Decimal | float | int) -> Estimate:
    """Price ``parameters`` (already validated, defaults applied) for ``hours`` on ``provider``."""
    hours = Decimal(str(hours)).quantize(SIX_PLACES)
    estimator = ESTIMATORS.get(provider)
    if estimator is None:
        raise ValidationError({"template": [f"Provider '{provider}' has no cost estimator."]})
    return estimator(parameters, hours)
