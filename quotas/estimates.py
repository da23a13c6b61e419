"""Estimates: line items and totals in USD, machine-hours and disk GB-hours, and the price
lookups and line-item builders a provider plugin prices its plan with.

quotas knows prices and ledgers, not providers: each plugin's ``estimate(plan, hours, prices)``
(providers/) decides what its plan costs with ``instances``, ``volumes`` and ``service`` here.
A price that is missing from the tables (unknown instance type or region) is a ValidationError
naming the document path that asked for it, never a zero price.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError

from cloudassist import changes
from cloudassist.feedcache import FeedCache
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


def _missing(where: str, message: str) -> ValidationError:
    return ValidationError({where: [message]})


#: Every price row this process read, until any price table changes (cloudassist/feedcache.py).
_prices = FeedCache(
    "prices",
    collections=(InstancePrice._meta.db_table, DiskPrice._meta.db_table, ServicePrice._meta.db_table),
    max_entries=4096,
)


def prices_changed() -> None:
    """After this process's own write to a price table committed: no stale price here from now on."""
    changes.publish_local(InstancePrice._meta.db_table, None)


class Prices:
    """The price tables, as a plugin's ``estimate`` looks them up: from the process's price cache
    (a price table that changes empties it). A price that is missing is a ValidationError keyed by
    ``where`` (the document path that asked for it), never a zero price. Each read once per
    estimate even when the cache is off (no change feed)."""

    def __init__(self) -> None:
        self._read: dict[tuple, Any] = {}

    def _get(self, key: tuple, load) -> Any:
        if key not in self._read:
            self._read[key] = _prices.get(key, load)
        return self._read[key]

    def instance(self, instance_type: str, region: str, *, where: str) -> InstancePrice:
        price = self._get(
            ("instance", instance_type, region),
            lambda: InstancePrice.objects.filter(
                instance_type=instance_type,
                region=region,
                pricing_model=PricingModel.ON_DEMAND,
                operating_system=OperatingSystem.LINUX,
            ).first(),
        )
        if price is None:
            known = self._get(("region", region), lambda: InstancePrice.objects.filter(region=region).exists())
            if not known:
                raise _missing(where, f"No prices are known for region '{region}'.")
            raise _missing(where, f"No price is known for instance type '{instance_type}' in {region}.")
        return price

    def disk(self, disk_type: str, region: str, *, where: str) -> DiskPrice:
        price = self._get(
            ("disk", disk_type, region), lambda: DiskPrice.objects.filter(disk_type=disk_type, region=region).first()
        )
        if price is None:
            raise _missing(where, f"No price is known for {disk_type} volumes in region '{region}'.")
        return price

    def service(self, service: str, region: str, *, where: str) -> ServicePrice:
        price = self._get(
            ("service", service, region), lambda: ServicePrice.objects.filter(service=service, region=region).first()
        )
        if price is None:
            raise _missing(where, f"No price is known for {service} in region '{region}'.")
        return price

    def vcpus(self, instance_type: str) -> int | None:
        """The vCPUs of ``instance_type`` (any region that knows them), or None."""
        return self._get(
            ("vcpus", instance_type),
            lambda: (
                InstancePrice.objects.filter(instance_type=instance_type, vcpus__isnull=False)
                .values_list("vcpus", flat=True)
                .first()
            ),
        )


# --- line items ---------------------------------------------------------------------------


def instances(
    prices: Prices, *, count: int, instance_type: str, region: str, hours: Decimal, where: str, note: str = ""
) -> LineItem:
    """``count`` instances of ``instance_type`` for ``hours`` (on-demand Linux list price)."""
    price = prices.instance(instance_type, region, where=where)
    quantity = Decimal(count)
    return LineItem(
        description=f"{count} x {instance_type} ({region}, on-demand Linux{note})",
        quantity=quantity,
        unit="instances",
        hours=hours,
        usd_rate=price.usd_per_hour,
        rate_unit="USD per instance-hour",
        usd=quantity * hours * price.usd_per_hour,
        machine_hours=quantity * hours,
    )


def volumes(
    prices: Prices, *, count: int, size_gb: int, disk_type: str, region: str, hours: Decimal, where: str
) -> LineItem:
    """``count`` volumes of ``size_gb`` GB of ``disk_type`` for ``hours``."""
    price = prices.disk(disk_type, region, where=where)
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


def service(prices: Prices, name: str, region: str, hours: Decimal, *, description: str, unit: str, where: str):
    """One of a priced service (an EKS control plane) for ``hours``."""
    price = prices.service(name, region, where=where)
    return LineItem(
        description=description,
        quantity=Decimal(1),
        unit=unit,
        hours=hours,
        usd_rate=price.usd_per_hour,
        rate_unit=f"USD per {unit.rstrip('s')}-hour",
        usd=hours * price.usd_per_hour,
    )


def hours_of(hours: Decimal | float | int) -> Decimal:
    return Decimal(str(hours)).quantize(SIX_PLACES)
