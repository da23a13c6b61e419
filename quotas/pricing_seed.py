"""Seed prices: public AWS on-demand list prices, so estimates work without AWS access.

Where they come from: the AWS public price list for Amazon EC2 (Linux, shared tenancy, no
pre-installed software, on-demand; the same numbers as https://aws.amazon.com/ec2/pricing/on-demand/),
Amazon EBS (https://aws.amazon.com/ebs/pricing/, gp2 and gp3 storage per GB-month) and
Amazon EKS (https://aws.amazon.com/eks/pricing/, USD 0.10 per cluster-hour on standard
support), as published in 2024 and unchanged through mid-2025. They are list prices in USD
without discounts, taxes or free tiers.

Prices change: ``manage.py sync_pricing`` refreshes these rows from the AWS Price List API
(source ``aws-price-list``). ``seed_pricing`` only creates the rows that are missing, so it
never overwrites a refreshed (or admin-edited) price.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError

from quotas import estimates
from quotas.choices import OperatingSystem, PricingModel
from quotas.models import DiskPrice, InstancePrice, ServicePrice

SOURCE = "seed"

# The regions offered by the seeded `basic-eks-cluster` template, and then some.
REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]

# instance type: (vCPUs, memory in GiB)
INSTANCE_SPECS: dict[str, tuple[int, str]] = {
    # previous generation, still common (t2 burstable, m4, c4, r4)
    "t2.micro": (1, "1"),
    "t2.small": (1, "2"),
    "t2.medium": (2, "4"),
    "t2.large": (2, "8"),
    "t2.xlarge": (4, "16"),
    "t2.2xlarge": (8, "32"),
    "m4.large": (2, "8"),
    "m4.xlarge": (4, "16"),
    "c4.large": (2, "3.75"),
    "c4.xlarge": (4, "7.5"),
    "r4.large": (2, "15.25"),
    "r4.xlarge": (4, "30.5"),
    # current generation
    "t3.micro": (2, "1"),
    "t3.small": (2, "2"),
    "t3.medium": (2, "4"),
    "t3.large": (2, "8"),
    "t3.xlarge": (4, "16"),
    "t3.2xlarge": (8, "32"),
    "t3a.micro": (2, "1"),
    "t3a.small": (2, "2"),
    "t3a.medium": (2, "4"),
    "t3a.large": (2, "8"),
    "t3a.xlarge": (4, "16"),
    "t3a.2xlarge": (8, "32"),
    "m5.large": (2, "8"),
    "m5.xlarge": (4, "16"),
    "m5.2xlarge": (8, "32"),
    "m6i.large": (2, "8"),
    "m6i.xlarge": (4, "16"),
    "m6i.2xlarge": (8, "32"),
    "c5.large": (2, "4"),
    "c5.xlarge": (4, "8"),
    "c5.2xlarge": (8, "16"),
    "r5.large": (2, "16"),
    "r5.xlarge": (4, "32"),
    "r5.2xlarge": (8, "64"),
}
INSTANCE_TYPES = list(INSTANCE_SPECS)

# US East (N. Virginia); US East (Ohio) and US West (Oregon) list the same prices.
_US = {
    "t2.micro": "0.0116",
    "t2.small": "0.023",
    "t2.medium": "0.0464",
    "t2.large": "0.0928",
    "t2.xlarge": "0.1856",
    "t2.2xlarge": "0.3712",
    "m4.large": "0.10",
    "m4.xlarge": "0.20",
    "c4.large": "0.10",
    "c4.xlarge": "0.199",
    "r4.large": "0.133",
    "r4.xlarge": "0.266",
    "t3.micro": "0.0104",
    "t3.small": "0.0208",
    "t3.medium": "0.0416",
    "t3.large": "0.0832",
    "t3.xlarge": "0.1664",
    "t3.2xlarge": "0.3328",
    "t3a.micro": "0.0094",
    "t3a.small": "0.0188",
    "t3a.medium": "0.0376",
    "t3a.large": "0.0752",
    "t3a.xlarge": "0.1504",
    "t3a.2xlarge": "0.3008",
    "m5.large": "0.096",
    "m5.xlarge": "0.192",
    "m5.2xlarge": "0.384",
    "m6i.large": "0.096",
    "m6i.xlarge": "0.192",
    "m6i.2xlarge": "0.384",
    "c5.large": "0.085",
    "c5.xlarge": "0.17",
    "c5.2xlarge": "0.34",
    "r5.large": "0.126",
    "r5.xlarge": "0.252",
    "r5.2xlarge": "0.504",
}

# USD per instance-hour, on-demand Linux, shared tenancy.
INSTANCE_PRICES: dict[str, dict[str, str]] = {
    "us-east-1": _US,
    "us-east-2": _US,
    # US West (N. California)
    "us-west-1": {
        "t2.micro": "0.0138",
        "t2.small": "0.0276",
        "t2.medium": "0.0552",
        "t2.large": "0.1104",
        "t2.xlarge": "0.2208",
        "t2.2xlarge": "0.4416",
        "m4.large": "0.117",
        "m4.xlarge": "0.234",
        "c4.large": "0.124",
        "c4.xlarge": "0.249",
        "r4.large": "0.148",
        "r4.xlarge": "0.296",
        "t3.micro": "0.0124",
        "t3.small": "0.0248",
        "t3.medium": "0.0496",
        "t3.large": "0.0992",
        "t3.xlarge": "0.1984",
        "t3.2xlarge": "0.3968",
        "t3a.micro": "0.0112",
        "t3a.small": "0.0224",
        "t3a.medium": "0.0448",
        "t3a.large": "0.0896",
        "t3a.xlarge": "0.1792",
        "t3a.2xlarge": "0.3584",
        "m5.large": "0.112",
        "m5.xlarge": "0.224",
        "m5.2xlarge": "0.448",
        "m6i.large": "0.112",
        "m6i.xlarge": "0.224",
        "m6i.2xlarge": "0.448",
        "c5.large": "0.106",
        "c5.xlarge": "0.212",
        "c5.2xlarge": "0.424",
        "r5.large": "0.148",
        "r5.xlarge": "0.296",
        "r5.2xlarge": "0.592",
    },
    "us-west-2": _US,
    # Europe (Ireland)
    "eu-west-1": {
        "t2.micro": "0.0126",
        "t2.small": "0.025",
        "t2.medium": "0.05",
        "t2.large": "0.1008",
        "t2.xlarge": "0.2016",
        "t2.2xlarge": "0.4032",
        "m4.large": "0.111",
        "m4.xlarge": "0.222",
        "c4.large": "0.113",
        "c4.xlarge": "0.226",
        "r4.large": "0.148",
        "r4.xlarge": "0.296",
        "t3.micro": "0.0114",
        "t3.small": "0.0228",
        "t3.medium": "0.0456",
        "t3.large": "0.0912",
        "t3.xlarge": "0.1824",
        "t3.2xlarge": "0.3648",
        "t3a.micro": "0.0102",
        "t3a.small": "0.0204",
        "t3a.medium": "0.0408",
        "t3a.large": "0.0816",
        "t3a.xlarge": "0.1632",
        "t3a.2xlarge": "0.3264",
        "m5.large": "0.107",
        "m5.xlarge": "0.214",
        "m5.2xlarge": "0.428",
        "m6i.large": "0.107",
        "m6i.xlarge": "0.214",
        "m6i.2xlarge": "0.428",
        "c5.large": "0.096",
        "c5.xlarge": "0.192",
        "c5.2xlarge": "0.384",
        "r5.large": "0.141",
        "r5.xlarge": "0.282",
        "r5.2xlarge": "0.564",
    },
    # Europe (Frankfurt)
    "eu-central-1": {
        "t2.micro": "0.0134",
        "t2.small": "0.0268",
        "t2.medium": "0.0536",
        "t2.large": "0.1072",
        "t2.xlarge": "0.2144",
        "t2.2xlarge": "0.4288",
        "m4.large": "0.12",
        "m4.xlarge": "0.24",
        "c4.large": "0.114",
        "c4.xlarge": "0.227",
        "r4.large": "0.16",
        "r4.xlarge": "0.32",
        "t3.micro": "0.012",
        "t3.small": "0.024",
        "t3.medium": "0.048",
        "t3.large": "0.096",
        "t3.xlarge": "0.192",
        "t3.2xlarge": "0.384",
        "t3a.micro": "0.0108",
        "t3a.small": "0.0216",
        "t3a.medium": "0.0432",
        "t3a.large": "0.0864",
        "t3a.xlarge": "0.1728",
        "t3a.2xlarge": "0.3456",
        "m5.large": "0.115",
        "m5.xlarge": "0.23",
        "m5.2xlarge": "0.46",
        "m6i.large": "0.115",
        "m6i.xlarge": "0.23",
        "m6i.2xlarge": "0.46",
        "c5.large": "0.097",
        "c5.xlarge": "0.194",
        "c5.2xlarge": "0.388",
        "r5.large": "0.152",
        "r5.xlarge": "0.304",
        "r5.2xlarge": "0.608",
    },
    # Asia Pacific (Singapore)
    "ap-southeast-1": {
        "t2.micro": "0.0146",
        "t2.small": "0.0292",
        "t2.medium": "0.0584",
        "t2.large": "0.1168",
        "t2.xlarge": "0.2336",
        "t2.2xlarge": "0.4672",
        "m4.large": "0.125",
        "m4.xlarge": "0.25",
        "c4.large": "0.115",
        "c4.xlarge": "0.231",
        "r4.large": "0.16",
        "r4.xlarge": "0.32",
        "t3.micro": "0.0132",
        "t3.small": "0.0264",
        "t3.medium": "0.0528",
        "t3.large": "0.1056",
        "t3.xlarge": "0.2112",
        "t3.2xlarge": "0.4224",
        "t3a.micro": "0.0118",
        "t3a.small": "0.0236",
        "t3a.medium": "0.0472",
        "t3a.large": "0.0944",
        "t3a.xlarge": "0.1888",
        "t3a.2xlarge": "0.3776",
        "m5.large": "0.12",
        "m5.xlarge": "0.24",
        "m5.2xlarge": "0.48",
        "m6i.large": "0.12",
        "m6i.xlarge": "0.24",
        "m6i.2xlarge": "0.48",
        "c5.large": "0.098",
        "c5.xlarge": "0.196",
        "c5.2xlarge": "0.392",
        "r5.large": "0.152",
        "r5.xlarge": "0.304",
        "r5.2xlarge": "0.608",
    },
}

DISK_TYPES = ["gp2", "gp3"]

# USD per GB-month of provisioned EBS storage (gp3's baseline 3,000 IOPS and 125 MB/s included).
DISK_PRICES: dict[str, dict[str, str]] = {
    "us-east-1": {"gp2": "0.10", "gp3": "0.08"},
    "us-east-2": {"gp2": "0.10", "gp3": "0.08"},
    "us-west-1": {"gp2": "0.12", "gp3": "0.096"},
    "us-west-2": {"gp2": "0.10", "gp3": "0.08"},
    "eu-west-1": {"gp2": "0.11", "gp3": "0.088"},
    "eu-central-1": {"gp2": "0.119", "gp3": "0.0952"},
    "ap-southeast-1": {"gp2": "0.12", "gp3": "0.096"},
}

EKS_CONTROL_PLANE = "eks-control-plane"

# USD per hour of flat fees: the EKS control plane (per cluster, standard support).
SERVICE_PRICES: dict[str, dict[str, str]] = {
    EKS_CONTROL_PLANE: dict.fromkeys(REGIONS, "0.10"),
}


def _instance_rows() -> list[InstancePrice]:
    rows = []
    for region, prices in INSTANCE_PRICES.items():
        for instance_type, usd in prices.items():
            vcpus, memory = INSTANCE_SPECS[instance_type]
            rows.append(
                InstancePrice(
                    instance_type=instance_type,
                    region=region,
                    pricing_model=PricingModel.ON_DEMAND,
                    operating_system=OperatingSystem.LINUX,
                    usd_per_hour=Decimal(usd),
                    vcpus=vcpus,
                    memory_gib=Decimal(memory),
                    source=SOURCE,
                )
            )
    return rows


def _disk_rows() -> list[DiskPrice]:
    return [
        DiskPrice(disk_type=disk_type, region=region, usd_per_gb_month=Decimal(usd), source=SOURCE)
        for region, prices in DISK_PRICES.items()
        for disk_type, usd in prices.items()
    ]


def _service_rows() -> list[ServicePrice]:
    return [
        ServicePrice(service=service, region=region, usd_per_hour=Decimal(usd), source=SOURCE)
        for service, prices in SERVICE_PRICES.items()
        for region, usd in prices.items()
    ]


def _create_missing(model, rows: list, key_fields: tuple[str, ...]) -> int:
    """Insert the rows whose unique key is not taken yet; existing rows are left as they are."""
    existing = set(model.objects.values_list(*key_fields))
    missing = [row for row in rows if tuple(getattr(row, name) for name in key_fields) not in existing]
    if not missing:
        return 0
    try:
        model.objects.bulk_create(missing)
    except IntegrityError:
        # Someone else seeded at the same time: fall back to one row at a time.
        values = [
            field.name
            for field in model._meta.concrete_fields
            if not field.primary_key and field.name not in key_fields and field.name != "updated_at"
        ]
        created = 0
        for row in missing:
            _, was_created = model.objects.get_or_create(
                **{name: getattr(row, name) for name in key_fields},
                defaults={name: getattr(row, name) for name in values},
            )
            created += was_created
        return created
    return len(missing)


def seed_pricing() -> int:
    """Create the seed prices that are missing (idempotent); returns how many rows were created."""
    created = (
        _create_missing(
            InstancePrice, _instance_rows(), ("instance_type", "region", "pricing_model", "operating_system")
        )
        + _create_missing(DiskPrice, _disk_rows(), ("disk_type", "region"))
        + _create_missing(ServicePrice, _service_rows(), ("service", "region"))
    )
    if created:
        estimates.prices_changed()
    return created


def seed_demo_prices(report, *, password: str) -> None:
    """The demo seed's prices (``manage.py seed_demo``)."""
    prices = seed_pricing()
    if prices:
        report.created.append(f"{prices} seed prices (instances, disks, EKS control plane)")
    else:
        report.existing.append("prices")
