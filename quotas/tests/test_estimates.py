"""quotas prices what a plugin asks it to (line items from the price tables); it knows no providers."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from quotas import estimates
from quotas.estimates import Estimate, Prices


@pytest.mark.django_db
def test_line_items_from_the_price_tables(pricing):
    prices = Prices()
    hours = Decimal(10)
    result = Estimate(
        hours=hours,
        line_items=[
            estimates.service(
                prices, "eks-control-plane", "us-east-1", hours, description="control plane", unit="clusters", where="x"
            ),
            estimates.instances(
                prices, count=2, instance_type="t3.medium", region="us-east-1", hours=hours, where="body.type"
            ),
            estimates.volumes(
                prices, count=2, size_gb=20, disk_type="gp3", region="us-east-1", hours=hours, where="body.disk"
            ),
        ],
    )
    items = {item.unit: item for item in result.line_items}
    assert items["clusters"].usd == Decimal("1.0")  # $0.10/h x 10 h
    assert items["instances"].usd == Decimal("0.832")  # 2 x $0.0416/h x 10 h
    assert items["GB"].usd == Decimal(40) * 10 * Decimal("0.08") / 730  # 40 GB gp3 at $0.08/GB-month
    assert result.machine_hours == 20
    assert result.disk_gb_hours == 400
    body = result.as_dict()
    assert body["usd"] == "1.88"  # 1.00 + 0.832 + 0.0438
    assert body["hours"] == "10"
    assert result.reservation() == {
        "live_environments": 1,
        "usd_micros": 1_832_000 + round(40 * 10 * 0.08 / 730 * 1_000_000),
        "machine_hours_micros": 20_000_000,
        "disk_gb_hours_micros": 400_000_000,
    }


@pytest.mark.django_db
def test_prices_differ_by_region(pricing):
    prices = Prices()
    east = prices.instance("m5.large", "us-east-1", where="x").usd_per_hour
    ireland = prices.instance("m5.large", "eu-west-1", where="x").usd_per_hour
    assert ireland > east


@pytest.mark.django_db
def test_each_price_is_read_once_per_estimate(pricing, mongo_commands):
    prices = Prices()
    with mongo_commands() as seen:
        for _ in range(3):
            prices.instance("m5.large", "us-east-1", where="x")
    assert len(seen.on("quotas_instanceprice")) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("instance_type", "region", "says"),
    [
        ("t9.gigantic", "us-east-1", "No price is known for instance type 't9.gigantic'"),
        ("t3.medium", "mars-north-1", "No prices are known for region 'mars-north-1'"),
    ],
)
def test_unknown_prices_are_an_error_naming_the_path_never_zero(pricing, instance_type, region, says):
    with pytest.raises(ValidationError) as missing:
        Prices().instance(instance_type, region, where="body.spec.instanceType")
    assert says in missing.value.message_dict["body.spec.instanceType"][0]
