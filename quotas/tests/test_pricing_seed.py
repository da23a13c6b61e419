from decimal import Decimal

import pytest

from cloudassist.seed import seed_demo
from quotas import pricing_seed
from quotas.models import DiskPrice, InstancePrice, ServicePrice
from quotas.pricing_seed import seed_pricing
from templates.seed import BASIC_EKS_CLUSTER, EKS_INSTANCE_TYPES, EKS_REGIONS

EXPECTED_ROWS = len(pricing_seed.REGIONS) * (len(pricing_seed.INSTANCE_TYPES) + len(pricing_seed.DISK_TYPES) + 1)


def test_tables_cover_every_region_and_type():
    assert set(pricing_seed.INSTANCE_PRICES) == set(pricing_seed.REGIONS)
    assert set(pricing_seed.DISK_PRICES) == set(pricing_seed.REGIONS)
    for region in pricing_seed.REGIONS:
        assert set(pricing_seed.INSTANCE_PRICES[region]) == set(pricing_seed.INSTANCE_SPECS), region
        assert set(pricing_seed.DISK_PRICES[region]) == {"gp2", "gp3"}, region
    assert {"t2", "m4", "c4", "r4", "t3", "t3a", "m5", "m6i", "c5", "r5"} == {
        name.split(".")[0] for name in pricing_seed.INSTANCE_TYPES
    }


def test_prices_scale_with_size_within_a_family():
    # Within a family, each size up doubles vCPUs, memory and the hourly price: catches typos.
    for region, prices in pricing_seed.INSTANCE_PRICES.items():
        for smaller, larger in [
            ("t3.micro", "t3.small"),
            ("t3.small", "t3.medium"),
            ("t3.medium", "t3.large"),
            ("t3.large", "t3.xlarge"),
            ("t3.xlarge", "t3.2xlarge"),
            ("t3a.micro", "t3a.small"),
            ("t3a.small", "t3a.medium"),
            ("t3a.medium", "t3a.large"),
            ("t3a.large", "t3a.xlarge"),
            ("t3a.xlarge", "t3a.2xlarge"),
            *[(f"{family}.large", f"{family}.xlarge") for family in ("m5", "m6i", "c5", "r5")],
            *[(f"{family}.xlarge", f"{family}.2xlarge") for family in ("m5", "m6i", "c5", "r5")],
        ]:
            assert Decimal(prices[larger]) == 2 * Decimal(prices[smaller]), (region, larger)
        # t3a (AMD) is cheaper than t3; memory-optimised r5 costs more than m5, compute c5 less.
        assert Decimal(prices["t3a.medium"]) < Decimal(prices["t3.medium"])
        assert Decimal(prices["c5.large"]) < Decimal(prices["m5.large"]) < Decimal(prices["r5.large"])
        assert Decimal(prices["m6i.large"]) == Decimal(prices["m5.large"])


@pytest.mark.django_db
def test_seed_creates_every_row_once():
    assert seed_pricing() == EXPECTED_ROWS
    assert seed_pricing() == 0
    assert InstancePrice.objects.count() == len(pricing_seed.REGIONS) * len(pricing_seed.INSTANCE_TYPES)
    assert DiskPrice.objects.count() == len(pricing_seed.REGIONS) * 2
    assert ServicePrice.objects.count() == len(pricing_seed.REGIONS)
    assert set(InstancePrice.objects.values_list("source", flat=True)) == {"seed"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("instance_type", "region", "usd", "vcpus", "memory"),
    [
        ("t3.medium", "us-east-1", "0.0416", 2, "4"),
        ("t3.micro", "us-east-1", "0.0104", 2, "1"),
        ("m5.large", "us-east-1", "0.096", 2, "8"),
        ("c5.large", "us-east-1", "0.085", 2, "4"),
        ("r5.large", "us-east-1", "0.126", 2, "16"),
        ("t3a.medium", "us-east-2", "0.0376", 2, "4"),
        ("m6i.xlarge", "us-west-2", "0.192", 4, "16"),
        ("t3.medium", "eu-west-1", "0.0456", 2, "4"),
        ("m5.large", "eu-west-1", "0.107", 2, "8"),
        ("m5.large", "eu-central-1", "0.115", 2, "8"),
        ("t3.medium", "ap-southeast-1", "0.0528", 2, "4"),
        ("r5.2xlarge", "ap-southeast-1", "0.608", 8, "64"),
    ],
)
def test_seeded_instance_prices_are_the_published_ones(pricing, instance_type, region, usd, vcpus, memory):
    price = InstancePrice.objects.get(instance_type=instance_type, region=region)
    assert price.usd_per_hour == Decimal(usd)
    assert price.vcpus == vcpus
    assert price.memory_gib == Decimal(memory)
    assert price.pricing_model == "ON_DEMAND"
    assert price.operating_system == "Linux"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("disk_type", "region", "usd"),
    [
        ("gp2", "us-east-1", "0.10"),
        ("gp3", "us-east-1", "0.08"),
        ("gp3", "eu-west-1", "0.088"),
        ("gp2", "eu-central-1", "0.119"),
        ("gp3", "ap-southeast-1", "0.096"),
    ],
)
def test_seeded_disk_prices(pricing, disk_type, region, usd):
    assert DiskPrice.objects.get(disk_type=disk_type, region=region).usd_per_gb_month == Decimal(usd)


@pytest.mark.django_db
def test_eks_control_plane_costs_ten_cents_an_hour_everywhere(pricing):
    fees = dict(ServicePrice.objects.filter(service="eks-control-plane").values_list("region", "usd_per_hour"))
    assert fees == dict.fromkeys(pricing_seed.REGIONS, Decimal("0.10"))


@pytest.mark.django_db
def test_every_choice_of_the_eks_template_is_priced(pricing):
    properties = BASIC_EKS_CLUSTER["parameters_schema"]["properties"]
    assert properties["region"]["enum"] == EKS_REGIONS
    assert properties["instance_type"]["enum"] == EKS_INSTANCE_TYPES
    priced = set(InstancePrice.objects.values_list("instance_type", "region"))
    missing = {(t, r) for t in EKS_INSTANCE_TYPES for r in EKS_REGIONS} - priced
    assert not missing
    for region in EKS_REGIONS:
        assert DiskPrice.objects.filter(region=region, disk_type="gp3").exists()
        assert ServicePrice.objects.filter(region=region, service="eks-control-plane").exists()


@pytest.mark.django_db
def test_seed_never_overwrites_refreshed_or_edited_prices(pricing):
    InstancePrice.objects.filter(instance_type="t3.medium", region="us-east-1").update(
        usd_per_hour=Decimal("0.0418"), source="aws-price-list"
    )
    DiskPrice.objects.filter(disk_type="gp3", region="eu-west-1").delete()
    assert seed_pricing() == 1  # only the deleted row comes back
    refreshed = InstancePrice.objects.get(instance_type="t3.medium", region="us-east-1")
    assert (refreshed.usd_per_hour, refreshed.source) == (Decimal("0.0418"), "aws-price-list")
    assert DiskPrice.objects.get(disk_type="gp3", region="eu-west-1").usd_per_gb_month == Decimal("0.088")


@pytest.mark.django_db
def test_seed_demo_seeds_the_prices_and_reports_them():
    report = seed_demo(password="a-demo-password")
    assert f"{EXPECTED_ROWS} seed prices (instances, disks, EKS control plane)" in report.created
    again = seed_demo(password="a-demo-password")
    assert "prices" in again.existing
    assert InstancePrice.objects.count() == len(pricing_seed.REGIONS) * len(pricing_seed.INSTANCE_TYPES)
