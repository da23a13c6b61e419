"""The AWS providers against a real moto server over HTTP (no mocks of boto3).

Every test gets an emptied emulator (the ``moto_endpoint`` fixture); what the providers did is
checked with plain boto3 describe calls against it.
"""

import configparser
import shutil
import subprocess

import boto3
import pytest
from botocore.exceptions import ClientError
from bson import ObjectId
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_ssh_private_key

import providers
from providers import aws
from providers.aws_ec2 import public_openssh, ssh_key
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


# --- aws-ec2 ------------------------------------------------------------------------------------

EC2_PARAMETERS = {"region": "eu-west-1", "instance_type": "t3.micro", "count": 2, "volume_size": 30}


def _instances(ec2, target: Target) -> list[dict]:
    answer = ec2.describe_instances(Filters=[{"Name": "tag:cloudassist-request", "Values": [target.request_id]}])
    return [instance for reservation in answer["Reservations"] for instance in reservation["Instances"]]


def test_ec2_create_launches_tagged_instances_with_the_requests_key_pair(boto):
    target = make_target(EC2_PARAMETERS)

    outcome = providers.get("aws-ec2").create(target)

    assert outcome.state == State.READY
    ec2 = boto("ec2", "eu-west-1")
    instances = _instances(ec2, target)
    assert sorted(outcome.outputs["instance_ids"]) == sorted(i["InstanceId"] for i in instances)
    assert len(instances) == 2
    for instance in instances:
        assert instance["State"]["Name"] == "running"
        assert instance["InstanceType"] == "t3.micro"
        assert instance["KeyName"] == f"cloudassist-{target.request_id}"
        assert aws.tag_dict(instance["Tags"]) == {**target.tags, "Name": f"cloudassist-{target.short_id}"}
    assert outcome.outputs["private_ips"] == [
        next(i["PrivateIpAddress"] for i in instances if i["InstanceId"] == instance_id)
        for instance_id in outcome.outputs["instance_ids"]
    ]
    assert all(outcome.outputs["public_ips"])
    volumes = ec2.describe_volumes(Filters=[{"Name": "tag:cloudassist-request", "Values": [target.request_id]}])
    assert sorted((v["Size"], v["VolumeType"]) for v in volumes["Volumes"]) == [(30, "gp3"), (30, "gp3")]
    # The default image: the latest Amazon Linux 2023 from AWS's public SSM parameter.
    ami = boto("ssm", "eu-west-1").get_parameter(
        Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    )["Parameter"]["Value"]
    assert {i["ImageId"] for i in instances} == {ami}
    assert outcome.outputs["ssh_user"] == "ec2-user"

    (pair,) = ec2.describe_key_pairs(KeyNames=[f"cloudassist-{target.request_id}"], IncludePublicKey=True)["KeyPairs"]
    assert aws.tag_dict(pair["Tags"]) == target.tags
    assert outcome.secret_kind == "credentials"
    assert outcome.secret.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    private = load_ssh_private_key(outcome.secret.encode(), password=None)
    public = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    assert pair["PublicKey"].split()[:2] == public.split()[:2]


def test_ec2_create_again_launches_nothing_and_tops_up_what_went_missing(boto):
    target = make_target(EC2_PARAMETERS)
    provider = providers.get("aws-ec2")
    first = provider.create(target)

    again = provider.create(target)

    assert again.state == State.READY
    assert again.steps == []
    assert again.outputs == first.outputs
    assert again.secret == first.secret
    ec2 = boto("ec2", "eu-west-1")
    assert len(_instances(ec2, target)) == 2

    # One instance terminated behind our back: the next create launches one more.
    ec2.terminate_instances(InstanceIds=first.outputs["instance_ids"][:1])
    topped_up = provider.create(target)
    assert [step.action for step in topped_up.steps] == ["run_instances"]
    assert len(topped_up.outputs["instance_ids"]) == 2
    assert first.outputs["instance_ids"][1] in topped_up.outputs["instance_ids"]
    assert topped_up.secret == first.secret


def test_ec2_status_hands_out_the_same_key_again(boto):
    target = make_target(EC2_PARAMETERS)
    provider = providers.get("aws-ec2")
    assert provider.status(target).state == State.ABSENT
    created = provider.create(target)

    status = provider.status(target)

    assert status.state == State.READY
    assert status.outputs == created.outputs
    assert status.secret == created.secret


def test_ec2_delete_terminates_the_instances_and_deletes_the_key_pair(boto):
    target = make_target(EC2_PARAMETERS)
    provider = providers.get("aws-ec2")
    created = provider.create(target)

    outcome = provider.delete(target)

    assert outcome.state == State.ABSENT
    assert [step.action for step in outcome.steps] == ["terminate_instances", "delete_key_pair"]
    ec2 = boto("ec2", "eu-west-1")
    answer = ec2.describe_instances(InstanceIds=created.outputs["instance_ids"])
    assert {i["State"]["Name"] for r in answer["Reservations"] for i in r["Instances"]} == {"terminated"}
    assert _error_code(ec2.describe_key_pairs, KeyNames=[f"cloudassist-{target.request_id}"]) == (
        "InvalidKeyPair.NotFound"
    )
    again = provider.delete(target)
    assert again.state == State.ABSENT
    assert [step.action for step in again.steps] == ["delete"]
    assert provider.status(target).state == State.ABSENT


def test_ec2_uses_the_ami_asked_for(boto):
    ec2 = boto("ec2", "us-east-2")
    images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023*-x86_64"]}])
    ami = images["Images"][0]["ImageId"]
    target = make_target({"region": "us-east-2", "ami": ami})

    outcome = providers.get("aws-ec2").create(target)

    assert [i["ImageId"] for i in _instances(ec2, target)] == [ami]
    assert outcome.outputs["ami"] == ami
    assert outcome.outputs["ssh_user"] is None  # only known for the default image


def test_ec2_key_pair_of_a_rotated_secrets_key_is_still_recognised(settings, boto):
    target = make_target(EC2_PARAMETERS)
    provider = providers.get("aws-ec2")
    created = provider.create(target)
    settings.SECRETS_KEYS = ["a-new-key", *settings.SECRETS_KEYS]

    assert provider.status(target).secret == created.secret  # derived with the older key, which still decrypts

    settings.SECRETS_KEYS = ["a-new-key"]
    status = provider.status(target)
    assert status.state == State.READY
    assert status.secret is None  # never a key that does not fit


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"instance_type": "t9.bogus"}, "InvalidInstanceType"),
        ({"ami": "ami-0123456789abcdef0"}, "parameters.ami: there is no AMI ami-0123456789abcdef0"),
        ({"ami": "not-an-ami"}, "parameters.ami: 'not-an-ami' is not an AMI id"),
        ({"count": 0}, "parameters.count: must be between 1 and 20"),
        ({"region": "mars-1"}, "parameters.region: 'mars-1' is not an AWS region"),
        ({"volume_type": "floppy"}, "parameters.volume_type: 'floppy' is not an EBS volume type"),
    ],
)
def test_ec2_bad_parameters_are_provider_errors(parameters, message, boto):
    target = make_target(parameters)
    with pytest.raises(ProviderError, match=message) as info:
        providers.get("aws-ec2").create(target)
    assert not isinstance(info.value, TransientProviderError)
    assert _instances(boto("ec2"), target) == []


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="OpenSSH's ssh-keygen is not installed")
def test_ec2_private_key_is_read_by_openssh(tmp_path):
    target = make_target({"region": "eu-west-1"})
    outcome = providers.get("aws-ec2").create(target)
    key_file = tmp_path / "key"
    key_file.write_text(outcome.secret)
    key_file.chmod(0o600)
    result = subprocess.run(["ssh-keygen", "-y", "-f", str(key_file)], capture_output=True, text=True, check=True)
    assert result.stdout.split()[:2] == public_openssh(ssh_key(target.request_id)).split()[:2]
