from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from quotas.estimates import estimate


@pytest.mark.django_db
def test_eks_estimate_itemises_control_plane_nodes_and_volumes(templates):
    parameters = {"region": "us-east-1", "instance_type": "t3.medium", "desired_capacity": 2, "volume_size": 20}
    result = estimate(provider="aws-eks", parameters=parameters, hours=10)
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
def test_prices_differ_by_region(templates):
    east = estimate(provider="aws-eks", parameters={"region": "us-east-1", "instance_type": "m5.large"}, hours=1)
    ireland = estimate(provider="aws-eks", parameters={"region": "eu-west-1", "instance_type": "m5.large"}, hours=1)
    assert ireland.usd > east.usd


@pytest.mark.django_db
def test_namespace_is_a_cpu_share_of_the_shared_node(templates, settings):
    settings.SHARED_CLUSTER_NODE_TYPE, settings.SHARED_CLUSTER_REGION = "m5.large", "us-east-1"
    result = estimate(provider="kubernetes", parameters={"namespace": "x", "cpu_limit": 1}, hours=8)
    assert result.machine_hours == 4  # 1 of m5.large's 2 vCPUs for 8 h
    assert result.usd == Decimal("0.384")  # 4 machine-hours x $0.096
    whole = estimate(provider="kubernetes", parameters={"namespace": "x", "cpu_limit": 2}, hours=25)
    assert whole.as_dict()["usd"] == "2.40"  # money keeps its cents


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"region": "us-east-1", "instance_type": "t9.gigantic"}, "parameters.instance_type"),
        ({"region": "mars-north-1", "instance_type": "t3.medium"}, "parameters.region"),
    ],
)
def test_unknown_prices_are_an_error_never_zero(templates, parameters, field):
    with pytest.raises(ValidationError) as missing:
        estimate(provider="aws-eks", parameters=parameters, hours=1)
    assert field in missing.value.message_dict


@pytest.mark.django_db
def test_every_seeded_template_choice_is_priced(eks):
    schema = eks.parameters_schema["properties"]
    for region in schema["region"]["enum"]:
        for instance_type in schema["instance_type"]["enum"]:
            parameters = {"region": region, "instance_type": instance_type}
            assert estimate(provider="aws-eks", parameters=parameters, hours=1).usd > 0
