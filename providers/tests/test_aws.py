"""The AWS providers against a real moto server over HTTP (no mocks of boto3).

Every test gets an emptied emulator (the ``moto_endpoint`` fixture); what the providers did is
checked with plain boto3 describe calls against it.
"""

import configparser

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from bson import ObjectId
from kubernetes.config.kube_config import KubeConfigLoader

import providers
from cloudassist import embedded
from providers import aws
from providers.base import ProviderError, State, Target, TransientProviderError
from provisioning.tests.conftest import EKS_PARAMETERS

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


# --- aws-eks ------------------------------------------------------------------------------------


def test_eks_create_waits_until_active_tags_everything_and_is_idempotent(boto):
    target = make_target({**EKS_PARAMETERS, "desired_capacity": 3, "volume_size": 40})
    provider = providers.get("aws-eks")

    outcome = provider.create(target)

    assert outcome.state == State.READY
    name = f"team-a-dev-{target.short_id}"
    assert outcome.outputs["cluster_name"] == name
    assert outcome.outputs["region"] == "eu-west-1"
    assert outcome.outputs["nodegroup"] == "ng-1"
    assert outcome.outputs["cluster_arn"].startswith("arn:aws:eks:eu-west-1:")
    assert outcome.secret_kind == "kubeconfig"
    assert [step.action for step in outcome.steps] == ["create_cluster", "create_nodegroup"]
    eks = boto("eks", "eu-west-1")
    cluster = eks.describe_cluster(name=name)["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert cluster["tags"] == target.tags
    assert outcome.outputs["endpoint"] == cluster["endpoint"]
    assert len(cluster["resourcesVpcConfig"]["subnetIds"]) >= 2
    nodegroup = eks.describe_nodegroup(clusterName=name, nodegroupName="ng-1")["nodegroup"]
    assert nodegroup["tags"] == target.tags
    assert nodegroup["scalingConfig"] == {"minSize": 3, "maxSize": 3, "desiredSize": 3}
    assert nodegroup["instanceTypes"] == ["t3.medium"]
    assert nodegroup["diskSize"] == 40
    assert nodegroup["subnets"] == cluster["resourcesVpcConfig"]["subnetIds"]

    again = provider.create(target)
    assert again.state == State.READY
    assert again.steps == []
    assert again.outputs == outcome.outputs
    assert again.secret == outcome.secret
    assert eks.list_clusters()["clusters"] == [name]
    assert eks.list_nodegroups(clusterName=name)["nodegroups"] == ["ng-1"]


def test_eks_kubeconfig_is_a_valid_kubeconfig_with_the_aws_exec_entry(boto):
    target = make_target(EKS_PARAMETERS)
    outcome = providers.get("aws-eks").create(target)
    name = outcome.outputs["cluster_name"]
    cluster = boto("eks", "eu-west-1").describe_cluster(name=name)["cluster"]

    config = yaml.safe_load(outcome.secret)

    assert config["apiVersion"] == "v1"
    assert config["kind"] == "Config"
    assert config["current-context"] == "team-a-dev"
    assert config["clusters"] == [
        {
            "name": cluster["arn"],
            "cluster": {
                "server": cluster["endpoint"],
                "certificate-authority-data": cluster["certificateAuthority"]["data"],
            },
        }
    ]
    assert config["contexts"] == [
        {"name": "team-a-dev", "context": {"cluster": cluster["arn"], "user": cluster["arn"]}}
    ]
    (user,) = config["users"]
    assert user["name"] == cluster["arn"]
    assert user["user"]["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"] == ["eks", "get-token", "--cluster-name", name, "--region", "eu-west-1"]
    # The official client reads it.
    loader = KubeConfigLoader(config_dict=config)
    assert loader.current_context["name"] == "team-a-dev"
    assert loader.current_context["context"]["cluster"] == cluster["arn"]


def test_eks_status_follows_the_cluster(boto):
    target = make_target(EKS_PARAMETERS)
    provider = providers.get("aws-eks")
    assert provider.status(target).state == State.ABSENT

    created = provider.create(target)

    status = provider.status(target)
    assert status.state == State.READY
    assert status.outputs == created.outputs
    assert status.secret == created.secret
    # Without its node group the cluster is not ready.
    boto("eks", "eu-west-1").delete_nodegroup(clusterName=created.outputs["cluster_name"], nodegroupName="ng-1")
    assert provider.status(target).state == State.CREATING


def test_eks_delete_removes_node_groups_then_the_cluster_and_is_idempotent(boto):
    target = make_target(EKS_PARAMETERS)
    provider = providers.get("aws-eks")
    name = provider.create(target).outputs["cluster_name"]
    eks = boto("eks", "eu-west-1")
    # A node group the developer added is removed too.
    extra = eks.describe_nodegroup(clusterName=name, nodegroupName="ng-1")["nodegroup"]
    eks.create_nodegroup(
        clusterName=name, nodegroupName="ng-extra", subnets=extra["subnets"], nodeRole=extra["nodeRole"]
    )

    outcome = provider.delete(target)

    assert outcome.state == State.ABSENT
    assert [step.action for step in outcome.steps] == ["delete_nodegroups", "delete_nodegroups", "delete_cluster"]
    assert _error_code(eks.describe_cluster, name=name) == "ResourceNotFoundException"
    assert eks.list_clusters()["clusters"] == []
    assert provider.delete(target).state == State.ABSENT
    assert provider.status(target).state == State.ABSENT


def test_eks_requests_with_the_same_cluster_name_do_not_collide(boto):
    first, second = make_target(EKS_PARAMETERS), make_target(EKS_PARAMETERS)
    provider = providers.get("aws-eks")
    names = {provider.create(first).outputs["cluster_name"], provider.create(second).outputs["cluster_name"]}
    assert len(names) == 2

    provider.delete(first)

    assert boto("eks", "eu-west-1").list_clusters()["clusters"] == [f"team-a-dev-{second.short_id}"]


def test_eks_never_adopts_or_deletes_a_cluster_of_another_request(boto):
    target = make_target(EKS_PARAMETERS)
    provider = providers.get("aws-eks")
    # Another request's cluster under the name this one would use.
    other = make_target(EKS_PARAMETERS)
    created = provider.create(other)
    eks = boto("eks", "eu-west-1")
    role = eks.describe_cluster(name=created.outputs["cluster_name"])["cluster"]["roleArn"]
    name = f"team-a-dev-{target.short_id}"
    eks.create_cluster(name=name, roleArn=role, resourcesVpcConfig={}, tags=other.tags)

    with pytest.raises(ProviderError, match=f"belongs to request {other.request_id}"):
        provider.create(target)
    with pytest.raises(ProviderError, match=f"belongs to request {other.request_id}"):
        provider.delete(target)
    assert eks.describe_cluster(name=name)["cluster"]["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"region": "eu-west-1"}, "parameters.cluster_name: this parameter is required"),
        ({"cluster_name": "9lives"}, "parameters.cluster_name: '9lives' is not a cluster name"),
        ({"cluster_name": "team-a", "region": "mars-1"}, "parameters.region: 'mars-1' is not an AWS region"),
        ({"cluster_name": "team-a", "desired_capacity": "two"}, "parameters.desired_capacity: expected int"),
        ({"cluster_name": "team-a", "desired_capacity": True}, "parameters.desired_capacity: expected int"),
        ({"cluster_name": "team-a", "desired_capacity": 0}, "parameters.desired_capacity: must be between"),
        ({"cluster_name": "team-a", "instance_type": "huge"}, "parameters.instance_type: 'huge' is not"),
    ],
)
def test_eks_bad_parameters_are_provider_errors(parameters, message):
    provider = providers.get("aws-eks")
    with pytest.raises(ProviderError, match=message) as info:
        provider.create(make_target(parameters))
    assert not isinstance(info.value, TransientProviderError)


def test_eks_on_real_aws_needs_the_iam_roles_and_uses_the_configured_subnets(settings, boto):
    settings.AWS_EMULATOR = False  # as with real AWS (the endpoint still points at the emulator)
    target = make_target(EKS_PARAMETERS)
    with pytest.raises(ProviderError, match="EKS_CLUSTER_ROLE_ARN and EKS_NODE_ROLE_ARN must be set"):
        providers.get("aws-eks").create(target)

    ec2 = boto("ec2", "eu-west-1")
    subnets = [subnet["SubnetId"] for subnet in ec2.describe_subnets()["Subnets"]][:2]
    settings.EKS_CLUSTER_ROLE_ARN = "arn:aws:iam::123456789012:role/eks-cluster"
    settings.EKS_NODE_ROLE_ARN = "arn:aws:iam::123456789012:role/eks-node"
    settings.EKS_SUBNET_IDS = subnets

    outcome = providers.get("aws-eks").create(target)

    eks = boto("eks", "eu-west-1")
    cluster = eks.describe_cluster(name=outcome.outputs["cluster_name"])["cluster"]
    assert cluster["roleArn"] == settings.EKS_CLUSTER_ROLE_ARN
    assert cluster["resourcesVpcConfig"]["subnetIds"] == subnets
    nodegroup = eks.describe_nodegroup(clusterName=cluster["name"], nodegroupName="ng-1")["nodegroup"]
    assert nodegroup["nodeRole"] == settings.EKS_NODE_ROLE_ARN
    assert boto("iam").list_roles()["Roles"] == []  # no placeholder roles outside the emulator


def test_emulator_placeholder_roles_are_created_once(boto):
    providers.get("aws-eks").create(make_target(EKS_PARAMETERS))
    providers.get("aws-eks").create(make_target({**EKS_PARAMETERS, "region": "us-east-1"}))
    roles = sorted(role["RoleName"] for role in boto("iam").list_roles()["Roles"])
    assert roles == ["cloudassist-emulator-eks-cluster", "cloudassist-emulator-eks-node"]


def test_an_unreachable_endpoint_is_transient(settings):
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{embedded.free_port()}"
    settings.AWS_MAX_ATTEMPTS = 1
    with pytest.raises(TransientProviderError, match="is unreachable"):
        providers.get("aws-eks").create(make_target(EKS_PARAMETERS))


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
