"""The seeded S3 and EC2 templates: they render, and every choice they offer is priced."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from quotas import estimates
from quotas.pricing_seed import seed_pricing
from templates import planning, rendering
from templates.seed import EC2_INSTANCE, S3_BUCKET, TEMPLATES


def render(template: dict, parameters: dict) -> rendering.Rendered:
    return rendering.render(body=template["body"], schema=template["parameters_schema"], parameters=parameters)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t["id"])
def test_every_seeded_template_is_a_valid_definition(template):
    rendering.check_definition(
        body=template["body"],
        parameters_schema=template["parameters_schema"],
        default_lifetime_hours=template["default_lifetime_hours"],
        max_lifetime_hours=template["max_lifetime_hours"],
    )


def test_s3_bucket_renders_with_defaults():
    result = render(S3_BUCKET, {"bucket": "team-a-logs"})
    assert result.parameters == {"bucket": "team-a-logs", "region": "us-east-1", "versioning": False}
    (bucket,) = result.manifests
    assert bucket["kind"] == "S3Bucket"
    assert bucket["metadata"] == {"name": "team-a-logs", "region": "us-east-1"}
    assert bucket["spec"]["versioning"] is False
    assert render(S3_BUCKET, {"bucket": "team-a-logs", "versioning": True}).manifests[0]["spec"]["versioning"] is True


@pytest.mark.parametrize("bucket", ["Team-A", "a", "team_a", "team.a", "-team", "x" * 55])
def test_s3_bucket_names_are_checked(bucket):
    with pytest.raises(ValidationError) as info:
        render(S3_BUCKET, {"bucket": bucket})
    assert "parameters.bucket" in info.value.message_dict


def test_ec2_instance_renders_with_defaults_and_an_ami():
    result = render(EC2_INSTANCE, {})
    assert result.parameters == {
        "region": "us-east-1",
        "instance_type": "t3.micro",
        "count": 1,
        "volume_size": 8,
        "volume_type": "gp3",
    }
    (spec,) = [doc["spec"] for doc in result.manifests]
    assert spec["count"] == 1
    assert spec["imageId"].startswith("resolve:ssm:/aws/service/ami-amazon-linux-latest/")
    assert spec["rootVolume"] == {"size": 8, "type": "gp3"}
    with_ami = render(EC2_INSTANCE, {"ami": "ami-0123456789abcdef0", "count": 5})
    assert with_ami.manifests[0]["spec"]["imageId"] == "ami-0123456789abcdef0"
    with pytest.raises(ValidationError) as info:
        render(EC2_INSTANCE, {"count": 6})
    assert "parameters.count" in info.value.message_dict


@pytest.mark.django_db
def test_every_choice_of_the_ec2_template_is_priced():
    seed_pricing()
    properties = EC2_INSTANCE["parameters_schema"]["properties"]
    prices = estimates.Prices()
    for region in properties["region"]["enum"]:
        for instance_type in properties["instance_type"]["enum"]:
            for volume_type in properties["volume_type"]["enum"]:
                parameters = {"region": region, "instance_type": instance_type, "volume_type": volume_type, "count": 2}
                planned = planning.plan(
                    provider="aws-ec2",
                    body=EC2_INSTANCE["body"],
                    schema=EC2_INSTANCE["parameters_schema"],
                    parameters=parameters,
                    request_id="0123456789abcdef01234567",
                )
                estimate = planning.price(planned.plan, 10, prices)
                assert estimate.usd > 0
                assert estimate.machine_hours == Decimal(20)
                assert estimate.disk_gb_hours == Decimal(2 * 8 * 10)


@pytest.mark.django_db
def test_s3_bucket_is_not_estimated_in_advance():
    planned = planning.plan(
        provider=S3_BUCKET["provider"],
        body=S3_BUCKET["body"],
        schema=S3_BUCKET["parameters_schema"],
        parameters={"bucket": "team-a-logs"},
        request_id="0123456789abcdef01234567",
    )
    assert [resource.kind for resource in planned.plan.resources] == ["S3 bucket", "IAM user"]
    estimate = planning.price(planned.plan, 10)
    assert estimate.usd == 0
    assert estimate.line_items == []
    assert estimate.notes == ["This resource is billed by use and is not estimated in advance."]
