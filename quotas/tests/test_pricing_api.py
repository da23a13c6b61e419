from decimal import Decimal

import pytest

from quotas.models import DiskPrice, InstancePrice, ServicePrice
from quotas.pricing_seed import INSTANCE_TYPES, REGIONS

INSTANCES = "/api/v1/pricing/instances/"
DISKS = "/api/v1/pricing/disks/"
SERVICES = "/api/v1/pricing/services/"


def _rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.django_db
@pytest.mark.parametrize("client_name", ["dev_client", "devops_client", "admin_client_api"])
@pytest.mark.parametrize("url", [INSTANCES, DISKS, SERVICES])
def test_every_authenticated_user_reads_prices(pricing, request, client_name, url):
    client = request.getfixturevalue(client_name)
    body = client.get(url).json()
    assert body["count"] > 0
    assert set(body) == {"count", "next", "previous", "results"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", [INSTANCES, DISKS, SERVICES])
def test_anonymous_users_get_401(pricing, anon_client, url):
    assert anon_client.get(url).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("client_name", ["dev_client", "admin_client_api"])
@pytest.mark.parametrize("url", [INSTANCES, DISKS, SERVICES])
def test_nobody_writes_prices_through_the_api(pricing, request, client_name, url):
    client = request.getfixturevalue(client_name)
    first = client.get(url).json()["results"][0]
    assert client.post(url, {"region": "us-east-1"}).status_code == 405
    assert client.patch(first["url"], {"region": "moon-1"}).status_code == 405
    assert client.put(first["url"], first).status_code == 405
    assert client.delete(first["url"]).status_code == 405
    assert client.get(first["url"]).json()["region"] == first["region"]


@pytest.mark.django_db
def test_instance_price_shape_and_values(pricing, dev_client):
    (row,) = _rows(dev_client.get(INSTANCES, {"region": "us-east-1", "instance_type": "t3.medium"}))
    price = InstancePrice.objects.get(instance_type="t3.medium", region="us-east-1")
    assert row == {
        "url": f"http://testserver{INSTANCES}{price.pk}/",
        "id": str(price.pk),
        "instance_type": "t3.medium",
        "region": "us-east-1",
        "pricing_model": "ON_DEMAND",
        "operating_system": "Linux",
        "usd_per_hour": "0.041600",
        "vcpus": 2,
        "memory_gib": "4.00",
        "source": "seed",
        "updated_at": row["updated_at"],
    }
    assert dev_client.get(row["url"]).json() == row


@pytest.mark.django_db
def test_disk_and_service_price_values(pricing, dev_client):
    (gp3,) = _rows(dev_client.get(DISKS, {"region": "eu-west-1", "disk_type": "gp3"}))
    assert (gp3["usd_per_gb_month"], gp3["source"]) == ("0.088000", "seed")
    assert set(gp3) == {"url", "id", "disk_type", "region", "usd_per_gb_month", "source", "updated_at"}
    fees = _rows(dev_client.get(SERVICES, {"service": "eks-control-plane", "page_size": 50}))
    assert {fee["region"] for fee in fees} == set(REGIONS)
    assert {fee["usd_per_hour"] for fee in fees} == {"0.100000"}
    assert dev_client.get(fees[0]["url"]).json()["service"] == "eks-control-plane"


@pytest.mark.django_db
def test_instance_filters(pricing, dev_client):
    in_region = _rows(dev_client.get(INSTANCES, {"region": "eu-central-1", "page_size": 200}))
    assert sorted(row["instance_type"] for row in in_region) == sorted(INSTANCE_TYPES)
    family = _rows(dev_client.get(INSTANCES, {"instance_family": "t3", "region": "us-east-1"}))
    assert sorted(row["instance_type"] for row in family) == sorted(
        ["t3.micro", "t3.small", "t3.medium", "t3.large", "t3.xlarge", "t3.2xlarge"]
    )  # not t3a
    assert _rows(dev_client.get(INSTANCES, {"source": "aws-price-list"})) == []
    assert _rows(dev_client.get(INSTANCES, {"region": "mars-1"})) == []
    bad = dev_client.get(INSTANCES, {"pricing_model": "SPOT"})
    assert bad.status_code == 400
    assert "pricing_model" in bad.json()["fields"]


@pytest.mark.django_db
def test_ordering_default_and_by_price(pricing, dev_client):
    default = _rows(dev_client.get(INSTANCES, {"page_size": 200}))
    assert [(row["region"], row["instance_type"]) for row in default] == sorted(
        (row["region"], row["instance_type"]) for row in default
    )
    cheapest_first = _rows(dev_client.get(INSTANCES, {"region": "us-east-1", "ordering": "usd_per_hour,instance_type"}))
    assert [row["instance_type"] for row in cheapest_first[:3]] == ["t3a.micro", "t3.micro", "t2.micro"]
    priciest = _rows(dev_client.get(DISKS, {"ordering": "-usd_per_gb_month"}))[0]
    assert (priciest["disk_type"], priciest["region"]) == ("gp2", "ap-southeast-1")
    bad = dev_client.get(SERVICES, {"ordering": "secret"})
    assert bad.status_code == 400
    assert "ordering" in bad.json()["fields"]


@pytest.mark.django_db
def test_lists_are_paginated(pricing, dev_client):
    first = dev_client.get(INSTANCES, {"page_size": 10}).json()
    assert first["count"] == len(REGIONS) * len(INSTANCE_TYPES)
    assert len(first["results"]) == 10
    assert first["next"]
    second = dev_client.get(first["next"]).json()
    assert not {row["id"] for row in first["results"]} & {row["id"] for row in second["results"]}


@pytest.mark.django_db
@pytest.mark.parametrize("url", [INSTANCES, DISKS, SERVICES])
@pytest.mark.parametrize("pk", ["not-an-id", "0123456789abcdef01234567"])
def test_malformed_and_unknown_ids_are_404(pricing, dev_client, url, pk):
    response = dev_client.get(f"{url}{pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("url", [INSTANCES, DISKS, SERVICES])
def test_list_is_two_queries(pricing, dev_client, url, django_assert_num_queries):
    with django_assert_num_queries(2):  # count + one page
        assert len(_rows(dev_client.get(url, {"page_size": 200}))) > 0


@pytest.mark.django_db
def test_refreshed_prices_show_their_source(pricing, dev_client):
    DiskPrice.objects.filter(disk_type="gp3", region="us-east-1").update(
        usd_per_gb_month=Decimal("0.0800000"), source="aws-price-list"
    )
    ServicePrice.objects.filter(region="us-west-2").update(usd_per_hour=Decimal("0.1"), source="aws-price-list")
    (row,) = _rows(dev_client.get(DISKS, {"source": "aws-price-list"}))
    assert (row["disk_type"], row["region"]) == ("gp3", "us-east-1")
    assert [row["region"] for row in _rows(dev_client.get(SERVICES, {"source": "aws-price-list"}))] == ["us-west-2"]


@pytest.mark.django_db
def test_schema_documents_the_pricing_endpoints(dev_client):
    schema = dev_client.get("/api/schema/?format=json").json()
    for path in (INSTANCES, f"{INSTANCES}{{id}}/", DISKS, SERVICES):
        assert set(schema["paths"][path]) == {"get"}  # read-only
    names = {parameter["name"] for parameter in schema["paths"][INSTANCES]["get"]["parameters"]}
    assert {"region", "instance_type", "instance_family", "source", "ordering", "page", "page_size"} <= names
