"""The AWS providers against a real moto server over HTTP (no mocks of boto3).

Every test gets an emptied emulator (the ``moto_endpoint`` fixture); what the providers did is
checked with plain boto3 describe calls against it.
"""

import shutil
import subprocess

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from bson import ObjectId
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_ssh_private_key
from kubernetes.config.kube_config import KubeConfigLoader

import providers
from cloudassist import embedded
from providers import aws
from providers.aws_ec2 import public_openssh, ssh_key
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
