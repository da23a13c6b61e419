"""sync_pricing against botocore's Stubber: real GetProducts response shapes, no network."""

import json
from decimal import Decimal
from io import StringIO

import boto3
import pytest
from botocore.stub import Stubber
from django.core.management import CommandError, call_command

from quotas import pricing_sync
from quotas.models import DiskPrice, InstancePrice, ServicePrice
from quotas.pricing_sync import PricingSyncError, sync_pricing

LOCATIONS = {
    "us-east-1": ("US East (N. Virginia)", ""),
    "eu-west-1": ("EU (Ireland)", "EU-"),
    "eu-central-1": ("EU (Frankfurt)", "EUC1-"),
}
PUBLISHED = "2025-05-01T18:42:03Z"


def _terms(sku: str, usd: str, unit: str, description: str) -> dict:
    """terms.OnDemand.<sku.offer>.priceDimensions.<sku.offer.rate>.pricePerUnit.USD, plus a Reserved term."""
    offer, rate = f"{sku}.JRTCKXETXF", f"{sku}.JRTCKXETXF.6YS6EN2CT7"
    reserved = f"{sku}.4NA7Y494T4"
    return {
        "OnDemand": {
            offer: {
                "priceDimensions": {
                    rate: {
                        "unit": unit,
                        "endRange": "Inf",
                        "description": description,
                        "appliesTo": [],
                        "rateCode": rate,
                        "beginRange": "0",
                        "pricePerUnit": {"USD": usd},
                    }
                },
                "sku": sku,
                "effectiveDate": "2025-05-01T00:00:00Z",
                "offerTermCode": "JRTCKXETXF",
                "termAttributes": {},
            }
        },
        "Reserved": {
            reserved: {
                "priceDimensions": {
                    f"{reserved}.6YS6EN2CT7": {
                        "unit": "Hrs",
                        "endRange": "Inf",
                        "description": "reserved, 1 year, no upfront",
                        "appliesTo": [],
                        "rateCode": f"{reserved}.6YS6EN2CT7",
                        "beginRange": "0",
                        "pricePerUnit": {"USD": "0.0262000000"},
                    }
                },
                "sku": sku,
                "effectiveDate": "2025-05-01T00:00:00Z",
                "offerTermCode": "4NA7Y494T4",
                "termAttributes": {
                    "LeaseContractLength": "1yr",
                    "OfferingClass": "standard",
                    "PurchaseOption": "No Upfront",
                },
            }
        },
    }


def ec2_product(instance_type: str, region: str, usd: str, *, vcpu="2", memory="4 GiB", **overrides) -> str:
    location, prefix = LOCATIONS[region]
    sku = f"SKU{abs(hash((instance_type, region, tuple(overrides.items())))) % 10**12:012d}"
    attributes = {
        "enhancedNetworkingSupported": "Yes",
        "intelTurboAvailable": "Yes",
        "memory": memory,
        "dedicatedEbsThroughput": "Up to 2085 Mbps",
        "vcpu": vcpu,
        "classicnetworkingsupport": "false",
        "capacitystatus": "Used",
        "locationType": "AWS Region",
        "storage": "EBS only",
        "instanceFamily": "General purpose",
        "operatingSystem": "Linux",
        "intelAvx2Available": "Yes",
        "regionCode": region,
        "physicalProcessor": "Intel Skylake E5 2686 v5",
        "clockSpeed": "3.1 GHz",
        "ecu": "Variable",
        "networkPerformance": "Up to 5 Gigabit",
        "servicename": "Amazon Elastic Compute Cloud",
        "gpuMemory": "NA",
        "vpcnetworkingsupport": "true",
        "instanceType": instance_type,
        "tenancy": "Shared",
        "usagetype": f"{prefix}BoxUsage:{instance_type}",
        "normalizationSizeFactor": "2",
        "intelAvxAvailable": "Yes",
        "processorFeatures": "AVX; AVX2; Intel AVX; Intel AVX2; Intel AVX512; Intel Turbo",
        "servicecode": "AmazonEC2",
        "licenseModel": "No License required",
        "currentGeneration": "Yes",
        "preInstalledSw": "NA",
        "location": location,
        "processorArchitecture": "64-bit",
        "marketoption": "OnDemand",
        "operation": "RunInstances",
        "availabilityzone": "NA",
        **overrides,
    }
    description = f"${Decimal(usd).normalize()} per On Demand Linux {instance_type} Instance Hour"
    return json.dumps(
        {
            "product": {"productFamily": "Compute Instance", "attributes": attributes, "sku": sku},
            "serviceCode": "AmazonEC2",
            "terms": _terms(sku, usd, "Hrs", description),
            "version": "20250501184203",
            "publicationDate": PUBLISHED,
        }
    )


def ebs_product(volume: str, region: str, usd: str) -> str:
    location, prefix = LOCATIONS[region]
    sku = f"EBS{volume.upper()}{region.replace('-', '').upper()}"
    attributes = {
        "maxThroughputvolume": "1000 MiB/s" if volume == "gp3" else "250 MiB/s",
        "volumeType": "General Purpose",
        "maxIopsvolume": "16000",
        "usagetype": f"{prefix}EBS:VolumeUsage.{volume}",
        "locationType": "AWS Region",
        "maxVolumeSize": "16 TiB",
        "storageMedia": "SSD-backed",
        "regionCode": region,
        "servicecode": "AmazonEC2",
        "volumeApiName": volume,
        "location": location,
        "servicename": "Amazon Elastic Compute Cloud",
    }
    description = f"${Decimal(usd).normalize()} per GB-month of General Purpose ({volume}) provisioned storage"
    terms = _terms(sku, usd, "GB-Mo", description)
    del terms["Reserved"]
    return json.dumps(
        {
            "product": {"productFamily": "Storage", "attributes": attributes, "sku": sku},
            "serviceCode": "AmazonEC2",
            "terms": terms,
            "version": "20250501184203",
            "publicationDate": PUBLISHED,
        }
    )


def eks_product(region: str, usage: str, usd: str) -> str:
    location, _ = LOCATIONS[region]
    code = {"us-east-1": "USE1", "eu-west-1": "EU", "eu-central-1": "EUC1"}[region]
    sku = f"EKS{usage.replace(':', '').replace('-', '').upper()}{code}"
    attributes = {
        "regionCode": region,
        "servicecode": "AmazonEKS",
        "usagetype": f"{code}-{usage}",
        "locationType": "AWS Region",
        "location": location,
        "servicename": "Amazon Elastic Container Service for Kubernetes",
        "operation": "CreateOperation",
    }
    terms = _terms(sku, usd, "Hours", f"Amazon EKS cluster usage in {location}")
    del terms["Reserved"]
    return json.dumps(
        {
            "product": {"productFamily": "Compute", "attributes": attributes, "sku": sku},
            "serviceCode": "AmazonEKS",
            "terms": terms,
            "version": "20250501184203",
            "publicationDate": PUBLISHED,
        }
    )


def page(*products: str, next_token: str | None = None) -> dict:
    response = {"FormatVersion": "aws_v1", "PriceList": list(products)}
    if next_token:
        response["NextToken"] = next_token
    return response


def _match(**terms) -> list[dict]:
    return [{"Type": "TERM_MATCH", "Field": name, "Value": value} for name, value in terms.items()]


def ec2_params(instance_type: str, region: str, next_token: str | None = None) -> dict:
    filters = _match(
        instanceType=instance_type,
        regionCode=region,
        operatingSystem="Linux",
        tenancy="Shared",
        preInstalledSw="NA",
        capacitystatus="Used",
    )
    return _params("AmazonEC2", filters, next_token)


def ebs_params(volume: str, region: str) -> dict:
    return _params("AmazonEC2", _match(productFamily="Storage", volumeApiName=volume, regionCode=region))


def eks_params(region: str, next_token: str | None = None) -> dict:
    return _params("AmazonEKS", _match(regionCode=region), next_token)


def _params(service: str, filters: list[dict], next_token: str | None = None) -> dict:
    params = {"ServiceCode": service, "Filters": filters, "FormatVersion": "aws_v1", "MaxResults": 100}
    if next_token:
        params["NextToken"] = next_token
    return params


@pytest.fixture
def client():
    return boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def stub(client):
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def stub_region(
    stub,
    region: str,
    *,
    instance_type: str = "t3.medium",
    usd: str | None = "0.0416000000",
    gp2: str = "0.1000000000",
    gp3: str = "0.0800000000",
    eks_error: tuple[str, int] | None = None,
):
    """One region, one instance type (``usd=None``: not in the Price List), gp2, gp3 and the EKS control plane."""
    products = [ec2_product(instance_type, region, usd)] if usd else []
    stub.add_response("get_products", page(*products), ec2_params(instance_type, region))
    stub.add_response("get_products", page(ebs_product("gp2", region, gp2)), ebs_params("gp2", region))
    stub.add_response("get_products", page(ebs_product("gp3", region, gp3)), ebs_params("gp3", region))
    if eks_error:
        code, status = eks_error
        stub.add_client_error(
            "get_products", service_error_code=code, service_message="Rate exceeded", http_status_code=status
        )
        return
    stub.add_response(
        "get_products",
        page(
            eks_product(region, "AmazonEKS-Hours:extendedSupport", "0.6000000000"),
            eks_product(region, "AmazonEKS-Hours:perCluster", "0.1000000000"),
        ),
        eks_params(region),
    )


# --- parsing --------------------------------------------------------------------------------


def test_parse_instance_reads_on_demand_usd_vcpus_and_memory():
    product = json.loads(ec2_product("r5.large", "eu-west-1", "0.1410000000", vcpu="2", memory="16 GiB"))
    quote = pricing_sync.parse_instance(product, instance_type="r5.large", region="eu-west-1")
    assert quote == pricing_sync.InstanceQuote(
        instance_type="r5.large",
        region="eu-west-1",
        usd_per_hour=Decimal("0.141"),
        vcpus=2,
        memory_gib=Decimal("16"),
    )
    assert str(quote.usd_per_hour) == "0.141000"  # six places, as stored


@pytest.mark.parametrize(
    "override",
    [
        {"operatingSystem": "Windows"},
        {"tenancy": "Dedicated"},
        {"preInstalledSw": "SQL Std"},
        {"capacitystatus": "UnusedCapacityReservation"},
        {"marketoption": "CapacityBlock"},
        {"operation": "RunInstances:0004"},
        {"instanceType": "t3.large"},
        {"regionCode": "eu-central-1"},
    ],
)
def test_parse_instance_ignores_other_products(override):
    product = json.loads(ec2_product("t3.medium", "us-east-1", "0.0416000000", **override))
    assert pricing_sync.parse_instance(product, instance_type="t3.medium", region="us-east-1") is None


def test_parse_disk_and_eks():
    disk = pricing_sync.parse_disk(
        json.loads(ebs_product("gp3", "eu-west-1", "0.0880000000")), disk_type="gp3", region="eu-west-1"
    )
    assert disk.usd_per_gb_month == Decimal("0.088")
    extended = json.loads(eks_product("us-east-1", "AmazonEKS-Hours:extendedSupport", "0.6000000000"))
    assert pricing_sync.parse_eks_control_plane(extended, region="us-east-1") is None
    standard = json.loads(eks_product("us-east-1", "AmazonEKS-Hours:perCluster", "0.1000000000"))
    quote = pricing_sync.parse_eks_control_plane(standard, region="us-east-1")
    assert (quote.service, quote.usd_per_hour) == ("eks-control-plane", Decimal("0.1"))


def test_on_demand_usd_takes_the_first_tier_and_tolerates_missing_terms():
    product = json.loads(ebs_product("gp2", "us-east-1", "0.1000000000"))
    (term,) = product["terms"]["OnDemand"].values()
    term["priceDimensions"] = {
        "b": {"beginRange": "51200", "endRange": "Inf", "pricePerUnit": {"USD": "0.0500000000"}},
        "a": {"beginRange": "0", "endRange": "51200", "pricePerUnit": {"USD": "0.1000000000"}},
    }
    assert pricing_sync.on_demand_usd(product) == Decimal("0.1")
    assert pricing_sync.on_demand_usd({"terms": {}}) is None
    assert pricing_sync.on_demand_usd({"terms": {"OnDemand": {"x": {"priceDimensions": {"y": {}}}}}}) is None


# --- sync: upsert, dry run, pagination ----------------------------------------------------------


@pytest.mark.django_db
def test_sync_upserts_refreshed_prices_over_the_seed(pricing, client, stub):
    stub_region(stub, "us-east-1", usd="0.0418000000")
    result = sync_pricing(regions=["us-east-1"], instance_types=["t3.medium"], client=client)

    price = InstancePrice.objects.get(instance_type="t3.medium", region="us-east-1")
    assert (price.usd_per_hour, price.source, price.vcpus, price.memory_gib) == (
        Decimal("0.0418"),
        "aws-price-list",
        2,
        Decimal("4"),
    )
    assert InstancePrice.objects.get(instance_type="t3.medium", region="eu-west-1").source == "seed"  # not asked
    assert DiskPrice.objects.get(disk_type="gp3", region="us-east-1").source == "aws-price-list"
    assert ServicePrice.objects.get(service="eks-control-plane", region="us-east-1").usd_per_hour == Decimal("0.1")
    assert (result.instances.fetched, result.instances.created, result.instances.updated) == (1, 0, 1)
    assert result.instances.changed == ["t3.medium us-east-1: 0.0416 -> 0.0418"]
    assert (result.disks.fetched, result.disks.updated, result.disks.changed) == (2, 2, [])
    assert (result.services.fetched, result.services.updated) == (1, 1)
    assert InstancePrice.objects.filter(instance_type="t3.medium", region="us-east-1").count() == 1


@pytest.mark.django_db
def test_sync_creates_rows_the_seed_lacks(client, stub):
    stub.add_response(
        "get_products",
        page(ec2_product("m5.4xlarge", "eu-central-1", "0.9200000000", vcpu="16", memory="64 GiB")),
        ec2_params("m5.4xlarge", "eu-central-1"),
    )
    stub.add_response(
        "get_products", page(ebs_product("gp3", "eu-central-1", "0.0952000000")), ebs_params("gp3", "eu-central-1")
    )
    result = sync_pricing(
        regions=["eu-central-1"], instance_types=["m5.4xlarge"], disk_types=["gp3"], services=False, client=client
    )
    price = InstancePrice.objects.get(instance_type="m5.4xlarge", region="eu-central-1")
    assert (price.usd_per_hour, price.vcpus, price.memory_gib, price.source) == (
        Decimal("0.92"),
        16,
        Decimal("64"),
        "aws-price-list",
    )
    assert (result.instances.created, result.disks.created, result.services.fetched) == (1, 1, 0)


@pytest.mark.django_db
def test_dry_run_fetches_and_reports_but_writes_nothing(pricing, client, stub):
    stub_region(stub, "eu-west-1", usd="0.0470000000")
    result = sync_pricing(regions=["eu-west-1"], instance_types=["t3.medium"], client=client, dry_run=True)
    assert result.dry_run
    assert result.instances.changed == ["t3.medium eu-west-1: 0.0456 -> 0.047"]
    price = InstancePrice.objects.get(instance_type="t3.medium", region="eu-west-1")
    assert (price.usd_per_hour, price.source) == (Decimal("0.0456"), "seed")
    assert not InstancePrice.objects.filter(source="aws-price-list").exists()
    assert not DiskPrice.objects.filter(source="aws-price-list").exists()


@pytest.mark.django_db
def test_pagination_follows_next_token(client, stub):
    # Page one holds only products that are not the plain on-demand one; the price is on page two.
    stub.add_response(
        "get_products",
        page(
            ec2_product("c5.large", "us-east-1", "0.0000000000", capacitystatus="UnusedCapacityReservation"),
            ec2_product("c5.large", "us-east-1", "0.1020000000", marketoption="CapacityBlock"),
            next_token="eyJwYWdlIjoy",
        ),
        ec2_params("c5.large", "us-east-1"),
    )
    stub.add_response(
        "get_products",
        page(ec2_product("c5.large", "us-east-1", "0.0850000000", memory="4 GiB")),
        ec2_params("c5.large", "us-east-1", next_token="eyJwYWdlIjoy"),
    )
    stub.add_response("get_products", page(next_token="eks-2"), eks_params("us-east-1"))
    stub.add_response(
        "get_products",
        page(eks_product("us-east-1", "AmazonEKS-Hours:perCluster", "0.1000000000")),
        eks_params("us-east-1", next_token="eks-2"),
    )
    result = sync_pricing(regions=["us-east-1"], instance_types=["c5.large"], disk_types=[], client=client)
    assert InstancePrice.objects.get(instance_type="c5.large", region="us-east-1").usd_per_hour == Decimal("0.085")
    assert ServicePrice.objects.get(region="us-east-1").usd_per_hour == Decimal("0.1")
    assert (result.instances.created, result.services.created) == (1, 1)


@pytest.mark.django_db
def test_products_missing_from_the_price_list_are_reported_and_left_alone(pricing, client, stub):
    stub.add_response("get_products", page(), ec2_params("t3.medium", "us-east-1"))
    stub.add_response(
        "get_products",
        page("not json", ebs_product("gp2", "us-east-1", "0.1000000000")),
        ebs_params("gp2", "us-east-1"),
    )
    result = sync_pricing(
        regions=["us-east-1"], instance_types=["t3.medium"], disk_types=["gp2"], services=False, client=client
    )
    assert result.instances.not_found == ["t3.medium us-east-1"]
    assert result.instances.fetched == 0
    assert InstancePrice.objects.get(instance_type="t3.medium", region="us-east-1").source == "seed"
    assert result.disks.updated == 1


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 400, "AWS Price List API is throttling requests (ThrottlingException: Rate exceeded)"),
        ("AccessDeniedException", 403, "AWS Price List API refused the request (AccessDeniedException: Rate exceeded)"),
    ],
)
def test_client_errors_are_one_line_and_write_nothing(pricing, client, stub, code, status, expected):
    # The EKS call (the last one) fails: nothing fetched before it is written either.
    stub_region(stub, "us-east-1", usd="0.0500000000", eks_error=(code, status))
    with pytest.raises(PricingSyncError) as caught:
        sync_pricing(regions=["us-east-1"], instance_types=["t3.medium"], client=client)
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)
    assert InstancePrice.objects.get(instance_type="t3.medium", region="us-east-1").usd_per_hour == Decimal("0.0416")


@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_PRICING",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookups
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


@pytest.mark.django_db
def test_command_without_credentials_is_one_clear_line(no_aws_credentials):
    with pytest.raises(CommandError) as caught:
        call_command("sync_pricing", "--regions", "us-east-1", "--instance-types", "t3.medium")
    assert str(caught.value).startswith("AWS Price List API: no usable AWS credentials")


@pytest.mark.django_db
def test_command_network_error_is_one_clear_line(no_aws_credentials, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(CommandError) as caught:  # nothing listens on port 9 of the loopback
        call_command("sync_pricing", "--regions", "us-east-1", "--endpoint-url", "http://127.0.0.1:9")
    assert str(caught.value).startswith(
        'AWS Price List API unreachable: Could not connect to the endpoint URL: "http://127.0.0.1:9/"'
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--regions", "us-east-1,mars", "Not a valid region: mars."),
        ("--instance-types", "t3.medium,big one", "Not a valid instance type: big one."),
        ("--endpoint-url", "not a url", "AWS Price List API: Invalid endpoint: not a url."),
    ],
)
def test_command_refuses_bad_options(option, value, message):
    with pytest.raises(CommandError, match=f"^{message}$"):
        call_command("sync_pricing", option, value)


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def stubbed_command(monkeypatch, client, stub):
    monkeypatch.setattr(pricing_sync, "make_client", lambda **kwargs: client)
    return stub


@pytest.mark.django_db
def test_command_reports_counts_and_changes(pricing, stubbed_command):
    stub_region(stubbed_command, "us-east-1", usd="0.0418000000")
    out = StringIO()
    call_command("sync_pricing", "--regions", "us-east-1", "--instance-types", "t3.medium", stdout=out)
    text = out.getvalue()
    assert "instance prices: 1 fetched, 0 created, 1 updated, 1 with a new price" in text
    assert "  t3.medium us-east-1: 0.0416 -> 0.0418" in text
    assert "disk prices: 2 fetched, 0 created, 2 updated, 0 with a new price" in text
    assert "service prices: 1 fetched, 0 created, 1 updated, 0 with a new price" in text
    assert "prices refreshed from the AWS Price List API" in text
    assert InstancePrice.objects.get(instance_type="t3.medium", region="us-east-1").source == "aws-price-list"


@pytest.mark.django_db
def test_command_dry_run(pricing, stubbed_command):
    stub_region(stubbed_command, "eu-west-1", instance_type="t3.large", usd=None)  # not in this Price List
    out = StringIO()
    call_command("sync_pricing", "--regions=eu-west-1", "--instance-types=t3.large", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "instance prices: 0 fetched, 0 would be created, 0 would be updated" in text
    assert "not in the Price List: t3.large eu-west-1" in text
    assert "disk prices: 2 fetched, 0 would be created, 2 would be updated" in text
    assert "dry run: nothing was written" in text
    assert not DiskPrice.objects.filter(source="aws-price-list").exists()


@pytest.mark.django_db
def test_command_defaults_to_the_seeded_regions_and_types(monkeypatch):
    seen = {}

    def fake_sync(**kwargs):
        seen.update(kwargs)
        return pricing_sync.SyncResult(dry_run=False)

    monkeypatch.setattr("quotas.management.commands.sync_pricing.sync_pricing", fake_sync)
    call_command("sync_pricing", stdout=StringIO())
    assert seen == {"regions": None, "instance_types": None, "dry_run": False, "endpoint_url": None}
    regions = pricing_sync._checked(pricing_sync.pricing_seed.REGIONS, pricing_sync.REGION_PATTERN, "region")
    assert regions == [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-southeast-1",
    ]
