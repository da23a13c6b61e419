"""The aws-ec2 plugin against a real moto server over HTTP (no mocks of boto3).

Templates are saved through the template service (which checks the document against the plugin),
planned through ``templates.planning`` with a request id, and applied through a ``Target`` of
that plan; what happened is checked with plain boto3 describe calls against the emulator.
"""

import shutil
import subprocess
from decimal import Decimal

import boto3
import pytest
from botocore.exceptions import ClientError
from bson import ObjectId
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_ssh_private_key
from django.core.exceptions import ValidationError

import providers
from providers import aws
from providers.aws_ec2 import DEFAULT_AMI_PARAMETER, inventory_regions, public_openssh, ssh_key
from providers.base import Found, ProviderError, State, Target, TransientProviderError
from quotas.estimates import Prices
from quotas.pricing_seed import REGIONS, seed_pricing
from templates import planning
from templates import services as template_services
from templates.seed import EC2_INSTANCE

pytestmark = [pytest.mark.usefixtures("moto_endpoint"), pytest.mark.django_db]

EDITED_BODY = """\
apiVersion: cloudassist.io/v1alpha1
kind: EC2Instances
metadata:
  region: {{ region }}
  tags:
    team: platform
spec:
  count: {{ count }}
  instanceType: {{ instance_type }}
  rootVolume:
    size: 50
    type: gp3
  securityGroup:
    ingress:
      - protocol: tcp
        fromPort: 22
        toPort: 22
        cidr: 10.0.0.0/8
        description: ssh from the office
  tags:
    app: web
"""

EDITED_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "region": {"type": "string", "default": "eu-west-1"},
        "instance_type": {"type": "string", "default": "t3.small"},
        "count": {"type": "integer", "default": 2},
    },
}

#: A document that leaves everything but the region to the plugin's schema.
MINIMAL_BODY = """\
apiVersion: cloudassist.io/v1alpha1
kind: EC2Instances
metadata:
  region: {{ region }}
"""


@pytest.fixture(autouse=True)
def prices(db):
    seed_pricing()


@pytest.fixture
def boto(moto_endpoint):
    """Plain boto3 clients on the emulator, to check what the plugin did."""

    def make(service: str, region: str = "eu-west-1"):
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=moto_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return make


def make_template(template_id: str, *, body: str, schema: dict):
    return template_services.create_template(
        actor=None,
        id=template_id,
        name=template_id,
        description="",
        resource_type="EC2_INSTANCE",
        provider="aws-ec2",
        default_lifetime_hours=8,
        max_lifetime_hours=168,
        parameters_schema=schema,
        body=body,
    )


def planned(template, parameters: dict | None = None, *, request_id: str | None = None):
    return planning.plan(
        provider=template.provider,
        body=template.body,
        schema=template.parameters_schema,
        parameters=parameters or {},
        request_id=request_id,
    )


def make_target(template, parameters: dict | None = None, *, request_id: str | None = None) -> Target:
    request_id = request_id or str(ObjectId())
    plan = planned(template, parameters, request_id=request_id).plan
    return Target(request_id=request_id, owner="dev1", plan=plan, expires_at=None)


@pytest.fixture
def edited():
    return make_template("ec2-edited", body=EDITED_BODY, schema=EDITED_SCHEMA)


@pytest.fixture
def seeded():
    return template_services.create_template(actor=None, **EC2_INSTANCE)


def _instances(ec2, target: Target) -> list[dict]:
    answer = ec2.describe_instances(Filters=[{"Name": "tag:cloudassist-request", "Values": [target.request_id]}])
    return [instance for reservation in answer["Reservations"] for instance in reservation["Instances"]]


def _live(ec2, target: Target) -> list[dict]:
    return [i for i in _instances(ec2, target) if i["State"]["Name"] != "terminated"]


def _error_code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"]


# --- the document, the plan and the estimate ----------------------------------------------------


def test_the_plan_says_what_the_edited_template_creates(edited):
    request_id = str(ObjectId())
    plan = planned(edited, request_id=request_id).plan

    short = request_id[-8:]
    assert plan.provider == "aws-ec2"
    assert plan.lines == [
        "2 x t3.small EC2 instances in eu-west-1, Amazon Linux 2023 (latest), 50 GiB gp3 root volume",
        f"security group cloudassist-{request_id}: tcp 22 from 10.0.0.0/8 (ssh from the office)",
        f"SSH key pair cloudassist-{request_id}",
    ]
    assert [r.name for r in plan.resources] == [
        f"cloudassist-{short}",
        f"cloudassist-{request_id}",
        f"cloudassist-{request_id}",
    ]
    document = plan.spec["document"]
    assert document["spec"]["imageId"] == f"resolve:ssm:{DEFAULT_AMI_PARAMETER}"
    assert document["spec"]["keyPair"] == "generated"
    assert plan.spec["names"] == {
        "instances": f"cloudassist-{short}",
        "securityGroup": f"cloudassist-{request_id}",
        "keyPair": f"cloudassist-{request_id}",
    }
    # A dry run names the same resources with a placeholder.
    assert planned(edited).plan.resources[0].name == "cloudassist-xxxxxxxx"


def test_the_estimate_prices_exactly_the_plan(edited):
    plan = planned(edited, request_id=str(ObjectId())).plan
    prices = Prices()

    estimate = planning.price(plan, 10, prices)

    instance = prices.instance("t3.small", "eu-west-1", where="-")
    disk = prices.disk("gp3", "eu-west-1", where="-")
    assert [item.description for item in estimate.line_items] == [
        "2 x t3.small (eu-west-1, on-demand Linux)",
        "2 x 50 GB gp3 (eu-west-1)",
    ]
    assert estimate.machine_hours == Decimal(20)
    assert estimate.disk_gb_hours == Decimal(2 * 50 * 10)
    assert estimate.usd == 20 * instance.usd_per_hour + Decimal(1000) * disk.usd_per_gb_month / Decimal(730)


def test_a_document_that_omits_count_and_root_volume_gets_the_schema_defaults():
    template = make_template(
        "ec2-minimal",
        body=MINIMAL_BODY,
        schema={"type": "object", "properties": {"region": {"type": "string", "default": "us-east-2"}}},
    )
    plan = planned(template, request_id=str(ObjectId())).plan

    assert plan.lines[0] == "1 x t3.micro EC2 instance in us-east-2, Amazon Linux 2023 (latest), 8 GiB gp3 root volume"
    assert [r.kind for r in plan.resources] == ["EC2 instances", "SSH key pair"]  # no ingress, no group
    spec = plan.spec["document"]["spec"]
    assert (spec["count"], spec["instanceType"], spec["rootVolume"]) == (1, "t3.micro", {"size": 8, "type": "gp3"})
    estimate = planning.price(plan, 10)
    assert [item.description for item in estimate.line_items] == [
        "1 x t3.micro (us-east-2, on-demand Linux)",
        "1 x 8 GB gp3 (us-east-2)",
    ]
    assert estimate.machine_hours == Decimal(10)
    assert estimate.disk_gb_hours == Decimal(80)


@pytest.mark.parametrize(
    ("edit", "path", "message"),
    [
        ("  userData: echo hi\n", "body.spec.userData", "not supported by aws-ec2"),
        ("  keyPair: mine\n", "body.spec.keyPair", "generated"),
        ("  imageId: ubuntu\n", "body.spec.imageId", "an AMI id (ami-...) or resolve:ssm:"),
        ("  count: 21\n", "body.spec.count", "21"),
        ("  rootVolume: {size: 8, type: floppy}\n", "body.spec.rootVolume.type", "floppy"),
        ("  rootVolume: {iops: 3000}\n", "body.spec.rootVolume.iops", "not supported by aws-ec2"),
        (
            "  securityGroup: {ingress: [{protocol: tcp, fromPort: 22, toPort: 22, cidr: 10.0.0.0/33}]}\n",
            "body.spec.securityGroup.ingress[0].cidr",
            "not an IPv4 CIDR",
        ),
        (
            "  securityGroup: {ingress: [{protocol: tcp, fromPort: 22, toPort: 22, cidr: '::/0'}]}\n",
            "body.spec.securityGroup.ingress[0].cidr",
            "not an IPv4 CIDR",
        ),
        (
            "  securityGroup: {ingress: [{protocol: tcp, fromPort: 443, toPort: 80, cidr: 0.0.0.0/0}]}\n",
            "body.spec.securityGroup.ingress[0].fromPort",
            "must not be above toPort",
        ),
        (
            "  securityGroup: {ingress: [{protocol: udp, cidr: 0.0.0.0/0}]}\n",
            "body.spec.securityGroup.ingress[0].fromPort",
            "required for udp rules",
        ),
        (
            "  securityGroup: {ingress: [{protocol: '-1', cidr: 0.0.0.0/0, description: 'é'}]}\n",
            "body.spec.securityGroup.ingress[0].description",
            "at most 255 letters",
        ),
        (
            "  securityGroup: {ingress: [{protocol: sctp, fromPort: 1, toPort: 2, cidr: 0.0.0.0/0}]}\n",
            "body.spec.securityGroup.ingress[0].protocol",
            "one of tcp, udp, icmp",
        ),
    ],
)
def test_an_unsupported_or_wrong_field_is_refused_when_the_template_is_saved(edit, path, message):
    with pytest.raises(ValidationError) as info:
        make_template("ec2-bad", body=MINIMAL_BODY + "spec:\n" + edit, schema=EDITED_SCHEMA)
    assert path in info.value.message_dict, info.value.message_dict
    assert message in " ".join(info.value.message_dict[path])


def test_a_region_without_ec2_is_refused_at_save():
    with pytest.raises(ValidationError) as info:
        make_template("ec2-mars", body=MINIMAL_BODY, schema={"properties": {"region": {"default": "mars-1"}}})
    assert info.value.message_dict["body.metadata.region"] == ["'mars-1' is not an AWS region where EC2 is available."]


def test_an_instance_type_without_a_price_is_refused_at_save_naming_the_field():
    with pytest.raises(ValidationError) as info:
        make_template(
            "ec2-unpriced",
            body=EDITED_BODY,
            schema={
                **EDITED_SCHEMA,
                "properties": {
                    **EDITED_SCHEMA["properties"],
                    "instance_type": {"type": "string", "default": "t9.bogus"},
                },
            },
        )
    assert "body.spec.instanceType" in info.value.message_dict


def test_the_seeded_template_plans_what_the_provider_did_before(seeded):
    plan = planned(seeded, {"region": "eu-west-1", "count": 2, "volume_size": 30}, request_id=str(ObjectId())).plan
    assert plan.lines[0] == (
        "2 x t3.micro EC2 instances in eu-west-1, Amazon Linux 2023 (latest), 30 GiB gp3 root volume"
    )
    with_ami = planned(seeded, {"ami": "ami-0123456789abcdef0"}).plan
    assert with_ami.spec["document"]["spec"]["imageId"] == "ami-0123456789abcdef0"
    assert with_ami.lines[0].endswith("us-east-1, AMI ami-0123456789abcdef0, 8 GiB gp3 root volume")


# --- applying the plan --------------------------------------------------------------------------


def test_the_edited_template_creates_what_it_says_and_purge_removes_it_all(edited, boto):
    target = make_target(edited)
    provider = providers.get("aws-ec2")

    outcome = provider.create(target)

    assert outcome.state == State.READY
    assert [step.action for step in outcome.steps] == [
        "import_key_pair",
        "create_security_group",
        "authorize_security_group_ingress",
        "run_instances",
    ]
    ec2 = boto("ec2", "eu-west-1")
    instances = _live(ec2, target)
    assert len(instances) == 2
    assert sorted(outcome.outputs["instance_ids"]) == sorted(i["InstanceId"] for i in instances)
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"cloudassist-{target.request_id}"]}]
    )["SecurityGroups"]
    assert outcome.outputs["security_group_id"] == group["GroupId"]
    expected_tags = {"team": "platform", "app": "web", "Name": f"cloudassist-{target.short_id}", **target.tags}
    for instance in instances:
        assert instance["State"]["Name"] == "running"
        assert instance["InstanceType"] == "t3.small"
        assert instance["KeyName"] == f"cloudassist-{target.request_id}"
        assert aws.tag_dict(instance["Tags"]) == expected_tags
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group["GroupId"]]
    volumes = ec2.describe_volumes(Filters=[{"Name": "tag:cloudassist-request", "Values": [target.request_id]}])
    assert sorted((v["Size"], v["VolumeType"]) for v in volumes["Volumes"]) == [(50, "gp3"), (50, "gp3")]
    assert all(aws.tag_dict(v["Tags"]) == expected_tags for v in volumes["Volumes"])
    assert aws.tag_dict(group["Tags"]) == {"team": "platform", "app": "web", **target.tags}
    assert group["VpcId"] == ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    assert [
        (p["IpProtocol"], p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]])
        for p in group["IpPermissions"]
    ] == [("tcp", 22, 22, ["10.0.0.0/8"])]
    ami = boto("ssm", "eu-west-1").get_parameter(Name=DEFAULT_AMI_PARAMETER)["Parameter"]["Value"]
    assert {i["ImageId"] for i in instances} == {ami}
    assert outcome.outputs["ssh_user"] == "ec2-user"
    assert provider.missing(target) == []

    again = provider.create(target)
    assert again.steps == []
    assert again.outputs == outcome.outputs
    assert len(_live(ec2, target)) == 2

    deleted = provider.delete(target)

    assert deleted.state == State.ABSENT
    assert [step.action for step in deleted.steps] == [
        "terminate_instances",
        "delete_security_group",
        "delete_key_pair",
    ]
    assert _live(ec2, target) == []
    assert (
        ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"cloudassist-{target.request_id}"]}])[
            "SecurityGroups"
        ]
        == []
    )
    assert _error_code(ec2.describe_key_pairs, KeyNames=[f"cloudassist-{target.request_id}"]) == (
        "InvalidKeyPair.NotFound"
    )
    assert provider.status(target).state == State.ABSENT
    assert [step.action for step in provider.delete(target).steps] == ["delete"]


def test_rules_added_by_hand_are_revoked_and_the_planned_ones_restored(edited, boto):
    target = make_target(edited, {"count": 1})
    provider = providers.get("aws-ec2")
    created = provider.create(target)
    ec2 = boto("ec2", "eu-west-1")
    group_id = created.outputs["security_group_id"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    ec2.revoke_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
    )

    again = provider.create(target)

    assert [step.action for step in again.steps] == [
        "revoke_security_group_ingress",
        "authorize_security_group_ingress",
    ]
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert [(p["IpProtocol"], p["FromPort"], [r["CidrIp"] for r in p["IpRanges"]]) for p in group["IpPermissions"]] == [
        ("tcp", 22, ["10.0.0.0/8"])
    ]


def test_create_again_tops_up_what_went_missing_and_missing_reports_it(seeded, boto):
    target = make_target(seeded, {"region": "eu-west-1", "count": 2})
    provider = providers.get("aws-ec2")
    first = provider.create(target)
    ec2 = boto("ec2", "eu-west-1")

    # One instance terminated behind the plugin's back.
    ec2.terminate_instances(InstanceIds=first.outputs["instance_ids"][:1])
    assert provider.missing(target) == [f"EC2 instances cloudassist-{target.short_id}: 1 of 2 running"]

    topped_up = provider.create(target)
    assert [step.action for step in topped_up.steps] == ["run_instances"]
    assert len(topped_up.outputs["instance_ids"]) == 2
    assert first.outputs["instance_ids"][1] in topped_up.outputs["instance_ids"]
    assert topped_up.secret == first.secret
    assert provider.missing(target) == []

    ec2.delete_key_pair(KeyName=f"cloudassist-{target.request_id}")
    assert provider.missing(target) == [f"SSH key pair cloudassist-{target.request_id}"]


def test_missing_reports_a_security_group_deleted_behind_the_plugins_back(edited, boto):
    target = make_target(edited, {"count": 1})
    provider = providers.get("aws-ec2")
    provider.create(target)
    ec2 = boto("ec2", "eu-west-1")
    ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in _live(ec2, target)])
    ec2.delete_security_group(GroupName=f"cloudassist-{target.request_id}")

    assert provider.missing(target) == [
        f"EC2 instances cloudassist-{target.short_id}: 0 of 1 running",
        f"security group cloudassist-{target.request_id}",
    ]


def test_status_hands_out_the_same_key_again(seeded):
    target = make_target(seeded, {"region": "eu-west-1"})
    provider = providers.get("aws-ec2")
    assert provider.status(target).state == State.ABSENT
    created = provider.create(target)

    status = provider.status(target)

    assert status.state == State.READY
    assert status.outputs == created.outputs
    assert status.secret == created.secret
    private = load_ssh_private_key(status.secret.encode(), password=None)
    public = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    assert public.split()[:2] == public_openssh(ssh_key(target.request_id)).split()[:2]


def test_the_ami_asked_for_is_used(seeded, boto):
    ec2 = boto("ec2", "us-east-2")
    images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023*-x86_64"]}])
    ami = images["Images"][0]["ImageId"]
    target = make_target(seeded, {"region": "us-east-2", "ami": ami})

    outcome = providers.get("aws-ec2").create(target)

    assert [i["ImageId"] for i in _live(ec2, target)] == [ami]
    assert outcome.outputs["ami"] == ami
    assert outcome.outputs["ssh_user"] is None  # only known for the default image


def test_an_ami_that_does_not_exist_is_a_permanent_error(seeded, boto):
    target = make_target(seeded, {"region": "eu-west-1", "ami": "ami-0123456789abcdef0"})
    with pytest.raises(ProviderError, match=r"body\.spec\.imageId: there is no AMI ami-0123456789abcdef0") as info:
        providers.get("aws-ec2").create(target)
    assert not isinstance(info.value, TransientProviderError)
    assert _live(boto("ec2", "eu-west-1"), target) == []


def test_key_pair_of_a_rotated_secrets_key_is_still_recognised(settings, seeded):
    target = make_target(seeded, {"region": "eu-west-1"})
    provider = providers.get("aws-ec2")
    created = provider.create(target)
    settings.SECRETS_KEYS = ["a-new-key", *settings.SECRETS_KEYS]

    assert provider.status(target).secret == created.secret  # derived with the older key, which still decrypts

    settings.SECRETS_KEYS = ["a-new-key"]
    status = provider.status(target)
    assert status.state == State.READY
    assert status.secret is None  # never a key that does not fit


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="OpenSSH's ssh-keygen is not installed")
def test_the_private_key_is_read_by_openssh(seeded, tmp_path):
    target = make_target(seeded, {"region": "eu-west-1"})
    outcome = providers.get("aws-ec2").create(target)
    key_file = tmp_path / "key"
    key_file.write_text(outcome.secret)
    key_file.chmod(0o600)
    result = subprocess.run(["ssh-keygen", "-y", "-f", str(key_file)], capture_output=True, text=True, check=True)
    assert result.stdout.split()[:2] == public_openssh(ssh_key(target.request_id)).split()[:2]


# --- reconciliation -----------------------------------------------------------------------------


def test_inventory_finds_a_tagged_instance_made_by_hand_and_remove_terminates_it(settings, boto):
    settings.AWS_INVENTORY_REGIONS = ["eu-west-1", "us-east-2"]
    ec2 = boto("ec2", "us-east-2")
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = [{"Key": "managed-by", "Value": "cloudassist"}, {"Key": "cloudassist-request", "Value": "gone-request"}]
    (orphan,) = ec2.run_instances(
        ImageId=ami, MinCount=1, MaxCount=1, TagSpecifications=[{"ResourceType": "instance", "Tags": tags}]
    )["Instances"]
    ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)  # not ours: never listed
    group = ec2.create_security_group(
        GroupName="cloudassist-gone-request",
        Description="by hand",
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
    )["GroupId"]
    ec2.create_key_pair(
        KeyName="cloudassist-gone-request", TagSpecifications=[{"ResourceType": "key-pair", "Tags": tags}]
    )
    provider = providers.get("aws-ec2")

    found = provider.inventory()

    assert sorted((f.kind, f.name, f.request_id, f.region) for f in found) == sorted(
        [
            ("EC2 instance", orphan["InstanceId"], "gone-request", "us-east-2"),
            ("EC2 security group", group, "gone-request", "us-east-2"),
            ("EC2 key pair", "cloudassist-gone-request", "gone-request", "us-east-2"),
        ]
    )
    instance = next(f for f in found if f.kind == "EC2 instance")
    assert instance.created_at is not None
    assert instance.created_at.tzinfo is not None
    assert instance.usd_per_hour is None

    for item in sorted(found, key=lambda f: f.kind != "EC2 instance"):  # the instance first
        assert provider.remove(item)
    answer = ec2.describe_instances(InstanceIds=[orphan["InstanceId"]])
    assert answer["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"
    assert provider.inventory() == []
    assert [step.detail for step in provider.remove(instance)] == [
        f"EC2 instance {orphan['InstanceId']} is already gone"
    ]


def test_remove_refuses_an_instance_not_tagged_managed_by_cloudassist(boto):
    ec2 = boto("ec2", "eu-west-1")
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]

    with pytest.raises(ProviderError, match="not tagged managed-by"):
        providers.get("aws-ec2").remove(
            Found(kind="EC2 instance", name=instance["InstanceId"], request_id=None, region="eu-west-1")
        )
    answer = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])
    assert answer["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"


def test_inventory_looks_in_the_priced_regions_unless_told(settings):
    settings.AWS_REGION = "ca-central-1"
    assert inventory_regions() == sorted({*REGIONS, "ca-central-1"})
    settings.AWS_INVENTORY_REGIONS = ["eu-west-1"]
    assert inventory_regions() == ["eu-west-1"]


def test_the_security_group_summary_says_each_rule_in_words():
    rules = (
        "  securityGroup:\n    ingress:\n"
        "      - {protocol: tcp, fromPort: 8000, toPort: 8080, cidr: 10.1.0.0/16}\n"
        "      - {protocol: icmp, fromPort: -1, toPort: -1, cidr: 10.0.0.0/8}\n"
        "      - {protocol: '-1', cidr: 192.168.0.0/24}\n"
    )
    template = make_template("ec2-rules", body=MINIMAL_BODY + "spec:\n" + rules, schema=EDITED_SCHEMA)
    request_id = str(ObjectId())
    assert planned(template, request_id=request_id).plan.lines[1] == (
        f"security group cloudassist-{request_id}: tcp 8000-8080 from 10.1.0.0/16; icmp from 10.0.0.0/8; "
        "all traffic from 192.168.0.0/24"
    )
