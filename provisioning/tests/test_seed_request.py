"""The seed's own request works as written: t2.micro in us-west-1, 2 nodes, 30 GB."""

from __future__ import annotations

import pytest

from quotas.models import DiskPrice, InstancePrice, ServicePrice
from quotas.pricing_seed import DISK_PRICES, INSTANCE_PRICES, SERVICE_PRICES
from templates.seed import EKS_INSTANCE_TYPES, EKS_REGIONS

URL = "/api/v1/provision-requests/"
SEED_REQUEST = {
    "template": "basic-eks-cluster",
    "description": "the seed's request",
    "parameters": {
        "cluster_name": "seed-demo",
        "region": "us-west-1",
        "instance_type": "t2.micro",
        "desired_capacity": 2,
        "volume_size": 30,
    },
}


def test_every_region_and_instance_type_the_eks_template_offers_has_a_seed_price():
    assert {"us-west-1", "us-east-1", "eu-west-1"} <= set(EKS_REGIONS)
    assert {"t2.micro", "t2.medium", "t3.medium", "m5.large"} <= set(EKS_INSTANCE_TYPES)
    for region in EKS_REGIONS:
        assert set(EKS_INSTANCE_TYPES) <= set(INSTANCE_PRICES[region]), region
        assert set(DISK_PRICES[region]) == {"gp2", "gp3"}, region
        assert region in SERVICE_PRICES["eks-control-plane"], region


@pytest.mark.django_db
def test_the_seeds_request_is_accepted_and_priced(templates, dev_client):
    response = dev_client.post(URL, SEED_REQUEST, format="json")
    assert response.status_code == 201, response.json()
    items = response.json()["cost_estimate"]["line_items"]
    assert any("t2.micro" in str(item) for item in items), items
    assert float(response.json()["cost_estimate"]["usd"]) > 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("unpriced", "field", "named"),
    [
        (
            lambda: InstancePrice.objects.filter(instance_type="t2.micro", region="us-west-1").delete(),
            "body.managedNodeGroups[0].instanceType",
            "t2.micro",
        ),
        (
            lambda: ServicePrice.objects.filter(region="us-west-1").delete(),
            "body.metadata.region",
            "eks-control-plane",
        ),
        (lambda: DiskPrice.objects.filter(region="us-west-1").delete(), "body.managedNodeGroups[0].volumeType", "gp3"),
    ],
)
def test_an_unpriced_combination_is_a_400_at_submission_naming_what_has_no_price(
    templates, dev_client, unpriced, field, named
):
    unpriced()
    response = dev_client.post(URL, SEED_REQUEST, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert field in body["fields"], body  # the place in the rendered document that asked for the price
    assert named in body["error"], body
    assert "us-west-1" in body["error"], body
