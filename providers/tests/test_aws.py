"""The AWS providers against a real moto server over HTTP (no mocks of boto3).

Every test gets an emptied emulator (the ``moto_endpoint`` fixture); what the providers did is
checked with plain boto3 describe calls against it.
"""

import configparser

import boto3
import pytest
from botocore.exceptions import ClientError
from bson import ObjectId

import providers
from providers import aws
from providers.base import ProviderError, State, Target, TransientProviderError

pytestmark = pytest.mark.usefixtures("moto_endpoint")


def make_target(parameters: dict, *, request_id: str | None = None, owner: str = "dev1") -> Target:
    return Target(
        request_id=request_id or str(ObjectId()),
        owner=owner,
        parameters=parameters,
        manifests=[],
        expires_at=None,
    )


@pytest.fixture
def boto(moto_endpoint):
    """Plain boto3 clients on the emulator, to check what the providers did."""

    def make(service: str, region: str = "us-east-1", **credentials):
        credentials = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.client(service, region_name=region, endpoint_url=moto_endpoint, **credentials)

    return make


def _error_code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"]


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


# --- aws-s3 -------------------------------------------------------------------------------------

S3_PARAMETERS = {"bucket": "team-a-logs", "region": "eu-west-1", "versioning": True}


def _profile(secret: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser.read_string(secret)
    (section,) = parser.sections()
    return parser[section]


def test_s3_create_makes_a_tagged_private_bucket_and_scoped_credentials(boto):
    target = make_target(S3_PARAMETERS)

    outcome = providers.get("aws-s3").create(target)

    assert outcome.state == State.READY
    bucket = f"team-a-logs-{target.short_id}"
    assert outcome.outputs["bucket"] == bucket
    assert outcome.outputs["region"] == "eu-west-1"
    assert outcome.outputs["versioning"] is True
    s3 = boto("s3", "eu-west-1")
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"
    assert aws.tag_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == target.tags
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert set(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values()) == {True}

    iam = boto("iam")
    user = f"cloudassist-s3-{target.request_id}"
    assert outcome.outputs["iam_user"] == user
    assert aws.tag_dict(iam.get_user(UserName=user)["User"]["Tags"]) == target.tags
    policy = iam.get_user_policy(UserName=user, PolicyName="cloudassist-bucket-access")["PolicyDocument"]
    resources = {statement["Resource"] for statement in policy["Statement"]}
    assert resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [key["AccessKeyId"] for key in keys] == [outcome.outputs["access_key_id"]]

    assert outcome.secret_kind == "credentials"
    profile = _profile(outcome.secret)
    assert profile["aws_access_key_id"] == outcome.outputs["access_key_id"]
    assert profile["region"] == "eu-west-1"
    as_user = boto(
        "s3",
        "eu-west-1",
        aws_access_key_id=profile["aws_access_key_id"],
        aws_secret_access_key=profile["aws_secret_access_key"],
    )
    as_user.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
    assert as_user.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello"


def test_s3_create_again_keeps_the_bucket_and_hands_out_one_fresh_key(boto):
    target = make_target(S3_PARAMETERS)
    provider = providers.get("aws-s3")
    first = provider.create(target)
    s3 = boto("s3", "eu-west-1")
    s3.put_object(Bucket=first.outputs["bucket"], Key="kept.txt", Body=b"kept")

    again = provider.create(target)

    assert again.state == State.READY
    assert [step.action for step in again.steps] == ["delete_access_key", "create_access_key"]
    assert {k: v for k, v in again.outputs.items() if k != "access_key_id"} == {
        k: v for k, v in first.outputs.items() if k != "access_key_id"
    }
    keys = boto("iam").list_access_keys(UserName=again.outputs["iam_user"])["AccessKeyMetadata"]
    assert [key["AccessKeyId"] for key in keys] == [again.outputs["access_key_id"]]  # the old key is gone
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [first.outputs["bucket"]]
    assert s3.get_object(Bucket=first.outputs["bucket"], Key="kept.txt")["Body"].read() == b"kept"


def test_s3_status_reports_the_bucket_without_the_secret():
    target = make_target(S3_PARAMETERS)
    provider = providers.get("aws-s3")
    assert provider.status(target).state == State.ABSENT
    created = provider.create(target)

    status = provider.status(target)

    assert status.state == State.READY
    assert status.outputs == created.outputs
    assert status.secret is None  # AWS shows a secret access key only once


def test_s3_delete_empties_every_version_and_removes_the_credentials(boto):
    target = make_target(S3_PARAMETERS)
    provider = providers.get("aws-s3")
    created = provider.create(target)
    bucket, user = created.outputs["bucket"], created.outputs["iam_user"]
    s3 = boto("s3", "eu-west-1")
    for body in (b"one", b"two"):
        s3.put_object(Bucket=bucket, Key="file.txt", Body=body)
    s3.put_object(Bucket=bucket, Key="dir/other.txt", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="dir/other.txt")  # a delete marker
    s3.create_multipart_upload(Bucket=bucket, Key="unfinished.bin")

    outcome = provider.delete(target)

    assert outcome.state == State.ABSENT
    assert [step.action for step in outcome.steps] == ["delete_user", "delete_bucket"]
    assert outcome.steps[1].data == {"objects": 4}
    assert _error_code(s3.head_bucket, Bucket=bucket) == "404"
    assert _error_code(boto("iam").get_user, UserName=user) == "NoSuchEntity"
    again = provider.delete(target)
    assert again.state == State.ABSENT
    assert [step.action for step in again.steps] == ["delete"]
    assert provider.status(target).state == State.ABSENT


def test_s3_without_a_bucket_parameter_names_it_after_the_request(boto):
    target = make_target({"region": "us-east-1"})
    outcome = providers.get("aws-s3").create(target)
    assert outcome.outputs["bucket"] == f"cloudassist-{target.request_id}"
    assert outcome.outputs["versioning"] is False
    assert "Status" not in boto("s3").get_bucket_versioning(Bucket=outcome.outputs["bucket"])


def test_s3_never_adopts_or_deletes_a_bucket_of_another_request(boto):
    target = make_target(S3_PARAMETERS)
    other = make_target(S3_PARAMETERS)
    s3 = boto("s3", "eu-west-1")
    bucket = f"team-a-logs-{target.short_id}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": aws.tag_list(other.tags)})

    with pytest.raises(ProviderError, match=f"belongs to request {other.request_id}"):
        providers.get("aws-s3").create(target)
    with pytest.raises(ProviderError, match=f"belongs to request {other.request_id}"):
        providers.get("aws-s3").delete(target)
    s3.head_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"bucket": "Bad_Name"}, "parameters.bucket: 'Bad_Name' is not a bucket name"),
        ({"bucket": "ok-name", "region": "mars-1"}, "parameters.region: 'mars-1' is not an AWS region"),
        ({"bucket": "ok-name", "versioning": "yes"}, "parameters.versioning: expected bool"),
    ],
)
def test_s3_bad_parameters_are_provider_errors(parameters, message):
    with pytest.raises(ProviderError, match=message):
        providers.get("aws-s3").create(make_target(parameters))
