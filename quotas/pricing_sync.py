"""Refresh the pricing tables from the AWS Price List API (boto3's ``pricing`` client).

``sync_pricing`` asks ``GetProducts`` (paginated) for:

- EC2 instances: ServiceCode ``AmazonEC2`` with ``instanceType``, ``regionCode``,
  ``operatingSystem=Linux``, ``tenancy=Shared``, ``preInstalledSw=NA``, ``capacitystatus=Used``;
- EBS volumes: ``AmazonEC2`` with ``productFamily=Storage``, ``volumeApiName`` and ``regionCode``;
- the EKS control plane: ``AmazonEKS`` with ``regionCode`` (the ``...AmazonEKS-Hours:perCluster``
  usage type; extended support and Fargate are other products).

Each ``PriceList`` entry is a JSON string holding ``product.attributes`` and
``terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD``. Everything is fetched
first and then written in one MongoDB transaction with ``update_or_create`` on each table's
unique key (``source="aws-price-list"``), so a failed run changes nothing. Errors from AWS or
the network become one :class:`PricingSyncError` with a one-line message.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from django_mongodb_backend import transaction

from quotas import estimates, pricing_seed
from quotas.choices import OperatingSystem, PricingModel
from quotas.models import DiskPrice, InstancePrice, ServicePrice

logger = logging.getLogger(__name__)

SOURCE = "aws-price-list"
PRICING_REGION = "us-east-1"  # the Price List API is served from us-east-1 (also eu-central-1, ap-south-1)
PAGE_SIZE = 100  # GetProducts' maximum
SIX_PLACES = Decimal("0.000001")
EKS_CONTROL_PLANE_USAGE = "AmazonEKS-Hours:perCluster"

REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
INSTANCE_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")

# Attributes an EC2 product must have to be the plain on-demand Linux price we store.
EC2_ATTRIBUTES = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}


class PricingSyncError(Exception):
    """The Price List API could not be read; the message is one line for the operator."""


@dataclass(frozen=True)
class InstanceQuote:
    instance_type: str
    region: str
    usd_per_hour: Decimal
    vcpus: int | None
    memory_gib: Decimal | None


@dataclass(frozen=True)
class DiskQuote:
    disk_type: str
    region: str
    usd_per_gb_month: Decimal


@dataclass(frozen=True)
class ServiceQuote:
    service: str
    region: str
    usd_per_hour: Decimal


@dataclass
class TableResult:
    """What happened (or, in a dry run, would happen) to one pricing table."""

    fetched: int = 0
    created: int = 0
    updated: int = 0
    changed: list[str] = field(default_factory=list)  # "t3.medium us-east-1: 0.0416 -> 0.0418"
    not_found: list[str] = field(default_factory=list)  # "t3.medium eu-south-9"


@dataclass
class SyncResult:
    dry_run: bool
    instances: TableResult = field(default_factory=TableResult)
    disks: TableResult = field(default_factory=TableResult)
    services: TableResult = field(default_factory=TableResult)

    def tables(self) -> dict[str, TableResult]:
        return {"instance prices": self.instances, "disk prices": self.disks, "service prices": self.services}


def make_client(*, endpoint_url: str | None = None, region: str = PRICING_REGION):
    """A ``pricing`` client. The endpoint can also be set with boto3's ``AWS_ENDPOINT_URL_PRICING``;
    credentials come from boto3's usual chain (environment, profile, instance role)."""
    config = Config(retries={"mode": "standard"}, connect_timeout=10, read_timeout=30)
    try:
        return boto3.client("pricing", region_name=region, endpoint_url=endpoint_url or None, config=config)
    except ValueError as exc:  # e.g. "Invalid endpoint: ..."
        raise PricingSyncError(f"AWS Price List API: {exc}.") from exc


def sync_pricing(
    *,
    regions: Iterable[str] | None = None,
    instance_types: Iterable[str] | None = None,
    disk_types: Iterable[str] | None = None,
    services: bool = True,
    dry_run: bool = False,
    client=None,
    endpoint_url: str | None = None,
) -> SyncResult:
    """Fetch the on-demand prices of ``instance_types`` and ``disk_types`` (and the EKS control
    plane) in ``regions`` and upsert them; defaults are what the pricing seed covers."""
    regions = _checked(pricing_seed.REGIONS if regions is None else regions, REGION_PATTERN, "region")
    instance_types = _checked(
        pricing_seed.INSTANCE_TYPES if instance_types is None else instance_types,
        INSTANCE_TYPE_PATTERN,
        "instance type",
    )
    disk_types = list(dict.fromkeys(pricing_seed.DISK_TYPES if disk_types is None else disk_types))
    result = SyncResult(dry_run=dry_run)
    try:
        client = client or make_client(endpoint_url=endpoint_url)
        instances = _fetch_instances(client, regions, instance_types, result.instances)
        disks = _fetch_disks(client, regions, disk_types, result.disks)
        fees = _fetch_eks_control_plane(client, regions, result.services) if services else []
    except (ClientError, BotoCoreError) as exc:
        raise PricingSyncError(describe_error(exc)) from exc
    with transaction.atomic():
        _upsert_instances(instances, result.instances, dry_run=dry_run)
        _upsert_disks(disks, result.disks, dry_run=dry_run)
        _upsert_services(fees, result.services, dry_run=dry_run)
    if not dry_run:
        estimates.prices_changed()
    return result


def describe_error(exc: Exception) -> str:
    """One line saying what went wrong talking to AWS, without a traceback."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "AWS Price List API: no usable AWS credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE or an instance role with pricing:GetProducts)."
        )
    if isinstance(exc, NoRegionError):
        return "AWS Price List API: no region configured."
    if isinstance(exc, EndpointConnectionError):
        return f"AWS Price List API unreachable: {exc}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        message = error.get("Message") or "no message"
        if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
            return f"AWS Price List API is throttling requests ({code}: {message}); try again later."
        return f"AWS Price List API refused the request ({code}: {message})."
    return f"AWS Price List API: {exc}."


# --- reading the Price List -----------------------------------------------------------------


def _checked(values: Iterable[str], pattern: re.Pattern, what: str) -> list[str]:
    values = list(dict.fromkeys(value.strip() for value in values if value.strip()))
    bad = [value for value in values if not pattern.match(value)]
    if bad:
        raise PricingSyncError(f"Not a valid {what}: {', '.join(bad)}.")
    return values


def _filters(**terms: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": name, "Value": value} for name, value in terms.items()]


def _products(client, service_code: str, filters: list[dict[str, str]]) -> Iterator[dict]:
    """Every product of every page, decoded; an entry that is not JSON is skipped."""
    paginator = client.get_paginator("get_products")
    pages = paginator.paginate(
        ServiceCode=service_code, Filters=filters, FormatVersion="aws_v1", PaginationConfig={"PageSize": PAGE_SIZE}
    )
    for page in pages:
        for entry in page.get("PriceList", []):
            try:
                product = json.loads(entry) if isinstance(entry, str) else entry
            except ValueError:
                logger.warning("skipping a Price List entry that is not JSON: %.80s", entry)
                continue
            if isinstance(product, dict):
                yield product


def on_demand_usd(product: dict) -> Decimal | None:
    """The USD price of the product's on-demand term (the first tier), or None."""
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        dimensions = sorted(
            (term.get("priceDimensions") or {}).values(), key=lambda dimension: _begin(dimension.get("beginRange"))
        )
        for dimension in dimensions:
            usd = (dimension.get("pricePerUnit") or {}).get("USD")
            try:
                return Decimal(usd).quantize(SIX_PLACES)
            except (InvalidOperation, TypeError, ValueError):
                continue
    return None


def _begin(value) -> Decimal:
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return Decimal(0)


def _attributes(product: dict) -> dict[str, str]:
    return (product.get("product") or {}).get("attributes") or {}


def parse_instance(product: dict, *, instance_type: str, region: str) -> InstanceQuote | None:
    """The quote in an EC2 product, if it is the plain on-demand Linux instance asked for."""
    attributes = _attributes(product)
    wanted = {**EC2_ATTRIBUTES, "instanceType": instance_type, "regionCode": region}
    if any(attributes.get(name) != value for name, value in wanted.items()):
        return None
    if attributes.get("operation", "RunInstances") != "RunInstances":
        return None  # e.g. a licensed variant
    if attributes.get("marketoption", "OnDemand") != "OnDemand":
        return None  # e.g. capacity blocks
    usd = on_demand_usd(product)
    if usd is None:
        return None
    return InstanceQuote(
        instance_type=instance_type,
        region=region,
        usd_per_hour=usd,
        vcpus=_int(attributes.get("vcpu")),
        memory_gib=_gib(attributes.get("memory")),
    )


def parse_disk(product: dict, *, disk_type: str, region: str) -> DiskQuote | None:
    attributes = _attributes(product)
    if (product.get("product") or {}).get("productFamily") != "Storage":
        return None
    if attributes.get("volumeApiName") != disk_type or attributes.get("regionCode") != region:
        return None
    usd = on_demand_usd(product)
    return None if usd is None else DiskQuote(disk_type=disk_type, region=region, usd_per_gb_month=usd)


def parse_eks_control_plane(product: dict, *, region: str) -> ServiceQuote | None:
    attributes = _attributes(product)
    if attributes.get("regionCode") != region:
        return None
    if not attributes.get("usagetype", "").endswith(EKS_CONTROL_PLANE_USAGE):
        return None
    usd = on_demand_usd(product)
    if usd is None:
        return None
    return ServiceQuote(service=pricing_seed.EKS_CONTROL_PLANE, region=region, usd_per_hour=usd)


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _gib(value) -> Decimal | None:
    """``"4 GiB"`` -> Decimal("4"); ``"0.5 GiB"`` -> Decimal("0.5")."""
    match = re.match(r"^\s*([\d.,]+)\s*GiB\s*$", str(value or ""))
    if not match:
        return None
    try:
        return Decimal(match.group(1).replace(",", "")).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _first(quotes: Iterable) -> object | None:
    return next((quote for quote in quotes if quote is not None), None)


def _fetch_instances(client, regions, instance_types, result: TableResult) -> list[InstanceQuote]:
    quotes = []
    for region in regions:
        for instance_type in instance_types:
            filters = _filters(instanceType=instance_type, regionCode=region, **EC2_ATTRIBUTES)
            quote = _first(
                parse_instance(product, instance_type=instance_type, region=region)
                for product in _products(client, "AmazonEC2", filters)
            )
            if quote is None:
                result.not_found.append(f"{instance_type} {region}")
            else:
                quotes.append(quote)
    result.fetched = len(quotes)
    return quotes


def _fetch_disks(client, regions, disk_types, result: TableResult) -> list[DiskQuote]:
    quotes = []
    for region in regions:
        for disk_type in disk_types:
            filters = _filters(productFamily="Storage", volumeApiName=disk_type, regionCode=region)
            quote = _first(
                parse_disk(product, disk_type=disk_type, region=region)
                for product in _products(client, "AmazonEC2", filters)
            )
            if quote is None:
                result.not_found.append(f"{disk_type} {region}")
            else:
                quotes.append(quote)
    result.fetched = len(quotes)
    return quotes


def _fetch_eks_control_plane(client, regions, result: TableResult) -> list[ServiceQuote]:
    quotes = []
    for region in regions:
        quote = _first(
            parse_eks_control_plane(product, region=region)
            for product in _products(client, "AmazonEKS", _filters(regionCode=region))
        )
        if quote is None:
            result.not_found.append(f"{pricing_seed.EKS_CONTROL_PLANE} {region}")
        else:
            quotes.append(quote)
    result.fetched = len(quotes)
    return quotes


# --- writing ------------------------------------------------------------------------------


def _upsert(model, rows: list[tuple[dict, dict, str]], price_field: str, result: TableResult, *, dry_run: bool):
    """``rows`` are (unique key, values, label); existing rows are read in one query to count changes."""
    if not rows:
        return
    key_fields = tuple(rows[0][0])
    regions = {key["region"] for key, _, _ in rows}
    existing = {
        tuple(str(getattr(row, name)) for name in key_fields): row for row in model.objects.filter(region__in=regions)
    }
    for key, values, label in rows:
        current = existing.get(tuple(str(value) for value in key.values()))
        if current is None:
            result.created += 1
        else:
            result.updated += 1
            old, new = getattr(current, price_field), values[price_field]
            if old != new:
                result.changed.append(f"{label}: {_text(old)} -> {_text(new)}")
        if not dry_run:
            model.objects.update_or_create(**key, defaults={**values, "source": SOURCE})


def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _upsert_instances(quotes: list[InstanceQuote], result: TableResult, *, dry_run: bool) -> None:
    rows = []
    for quote in quotes:
        key = {
            "instance_type": quote.instance_type,
            "region": quote.region,
            "pricing_model": PricingModel.ON_DEMAND,
            "operating_system": OperatingSystem.LINUX,
        }
        values = {"usd_per_hour": quote.usd_per_hour}
        if quote.vcpus is not None:
            values["vcpus"] = quote.vcpus
        if quote.memory_gib is not None:
            values["memory_gib"] = quote.memory_gib
        rows.append((key, values, f"{quote.instance_type} {quote.region}"))
    _upsert(InstancePrice, rows, "usd_per_hour", result, dry_run=dry_run)


def _upsert_disks(quotes: list[DiskQuote], result: TableResult, *, dry_run: bool) -> None:
    rows = [
        (
            {"disk_type": quote.disk_type, "region": quote.region},
            {"usd_per_gb_month": quote.usd_per_gb_month},
            f"{quote.disk_type} {quote.region}",
        )
        for quote in quotes
    ]
    _upsert(DiskPrice, rows, "usd_per_gb_month", result, dry_run=dry_run)


def _upsert_services(quotes: list[ServiceQuote], result: TableResult, *, dry_run: bool) -> None:
    rows = [
        (
            {"service": quote.service, "region": quote.region},
            {"usd_per_hour": quote.usd_per_hour},
            f"{quote.service} {quote.region}",
        )
        for quote in quotes
    ]
    _upsert(ServicePrice, rows, "usd_per_hour", result, dry_run=dry_run)
