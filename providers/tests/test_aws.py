"""The AWS providers against a real moto server over HTTP (no mocks of boto3).

Every test gets an emptied emulator (the ``moto_endpoint`` fixture); what the providers did is
checked with plain boto3 describe calls against it.
"""

import boto3
import pytest
from botocore.exceptions import ClientError

import providers
from providers import aws
from providers.base import ProviderError, TransientProviderError

pytestmark = pytest.mark.usefixtures("moto_endpoint")


@pytest.fixture
def boto(moto_endpoint):
    """Plain boto3 clients on the emulator, to check what the providers did."""

    def make(service: str, region: str = "us-east-1", **credentials):
        credentials = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.client(service, region_name=region, endpoint_url=moto_endpoint, **credentials)

    return make


def test_the_registry_knows_the_aws_providers():
    assert {"aws-eks", "aws-s3", "aws-ec2"} <= set(providers.names())
    assert type(providers.get("aws-eks")).__module__ == "providers.aws_eks"


def test_clients_talk_to_the_emulator_with_dummy_credentials(settings, moto_endpoint):
    assert aws.endpoint_url() == moto_endpoint
    sts = aws.client("sts", "eu-west-1")
    assert sts.meta.endpoint_url == moto_endpoint
    assert sts.meta.region_name == "eu-west-1"
    assert sts.get_caller_identity()["Account"] == "123456789012"  # moto's default account


def test_without_an_endpoint_the_emulator_is_the_embedded_one(settings):
    settings.AWS_ENDPOINT_URL = ""
    settings.EMBEDDED_MOTO_PORT = 5999
    assert aws.endpoint_url() == "http://127.0.0.1:5999"
    settings.AWS_EMULATOR = False
    assert aws.endpoint_url() is None  # real AWS: boto3 picks the regional endpoint


def test_waiting_is_bounded_and_then_transient(settings):
    settings.AWS_WAIT_SECONDS = 0.2
    settings.AWS_POLL_SECONDS = 0.05
    calls = []

    def never_ready():
        calls.append(1)

    with pytest.raises(TransientProviderError, match=r"not ACTIVE after 0\.2s; will check again"):
        aws.wait_for(never_ready, what="the thing is not ACTIVE")
    assert 2 <= len(calls) <= 10
    assert aws.wait_for(lambda: "done", what="never shown") == "done"


def test_client_errors_are_translated():
    eks = aws.client("eks", "eu-west-1")
    with (
        pytest.raises(ProviderError, match=r"Cannot describe the cluster: ResourceNotFoundException") as info,
        aws.translate("describe the cluster"),
    ):
        eks.describe_cluster(name="nothing-here")
    assert not isinstance(info.value, TransientProviderError)
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "DescribeCluster")
    with pytest.raises(TransientProviderError, match="ThrottlingException: slow down"), aws.translate("describe it"):
        raise throttled
