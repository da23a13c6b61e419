"""The aws-eks plugin against a real moto server over HTTP (no mocks of boto3): templates are
saved through templates.services, planned through templates.planning with a request id, and
what the plugin did is checked with plain boto3 describe calls against the emulator."""

from __future__ import annotations

from decimal import Decimal

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from bson import ObjectId
from django.core.exceptions import ValidationError
from kubernetes.config.kube_config import KubeConfigLoader

import providers
from cloudassist import embedded
from providers import aws_eks
from providers.base import Found, ProviderError, State, Target, TransientProviderError
from quotas.estimates import Prices
from templates import planning
from templates import services as template_services
from templates.seed import BASIC_EKS_CLUSTER

pytestmark = [pytest.mark.usefixtures("moto_endpoint"), pytest.mark.django_db]

PARAMETERS = {"cluster_name": "team-a-dev", "region": "eu-west-1", "instance_type": "t3.medium"}

EDITED_BODY = """\
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: {{ cluster_name }}
  region: {{ region }}
  version: "1.30"
  tags:
    team: a
managedNodeGroups:
  - name: ng-1
    instanceType: {{ instance_type }}
    desiredCapacity: {{ desired_capacity }}
    volumeSize: {{ volume_size }}
    labels:
      role: general
  - name: ng-spot
    instanceTypes: [t3.large, m5.large]
    desiredCapacity: 3
    minSize: 1
    maxSize: 5
    volumeSize: 50
    spot: true
    labels:
      role: batch
    taints:
      - key: dedicated
        value: batch
        effect: NoSchedule
    tags:
      cost-center: "42"
addons:
  - name: vpc-cni
    version: v1.18.0
"""


@pytest.fixture
def eks_template(db):
    from quotas.pricing_seed import seed_pricing

    seed_pricing()
    return template_services.create_template(actor=None, **BASIC_EKS_CLUSTER)


@pytest.fixture
def boto(moto_endpoint):
    def make(service: str, region: str = "eu-west-1"):
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=moto_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return make


def plan_of(template, parameters=PARAMETERS, *, request_id: str | None = None):
    return planning.plan(
        provider=template.provider,
        body=template.body,
        schema=template.parameters_schema,
        parameters=parameters,
        request_id=request_id or str(ObjectId()),
    ).plan


def make_target(template, parameters=PARAMETERS, *, request_id: str | None = None) -> Target:
    request_id = request_id or str(ObjectId())
    return Target(
        request_id=request_id,
        owner="dev1",
        plan=plan_of(template, parameters, request_id=request_id),
        expires_at=None,
    )


def document(**changes) -> dict:
    base = {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {"name": "team-a", "region": "eu-west-1"},
        "managedNodeGroups": [{"name": "ng-1", "instanceType": "t3.medium"}],
    }
    base.update(changes)
    return base


def _error_code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"]


# --- the seeded template: what the provider did before, now from the document --------------------


def test_the_seeded_template_creates_what_it_says_and_is_idempotent(eks_template, boto):
    target = make_target(eks_template, {**PARAMETERS, "desired_capacity": 3, "volume_size": 40})
    assert target.plan.lines == [
        f"EKS cluster team-a-dev-{target.short_id}, Kubernetes: EKS default, eu-west-1",
        "managed node group ng-1: 3 x t3.medium, 40 GiB gp3",
    ]
    provider = providers.get("aws-eks")

    outcome = provider.create(target)

    assert outcome.state == State.READY
    name = f"team-a-dev-{target.short_id}"
    assert outcome.outputs["cluster_name"] == name
    assert outcome.outputs["region"] == "eu-west-1"
    assert outcome.outputs["nodegroups"] == [
        {"name": "ng-1", "instance_types": ["t3.medium"], "desired_capacity": 3, "capacity_type": "ON_DEMAND"}
    ]
    assert outcome.outputs["cluster_arn"].startswith("arn:aws:eks:eu-west-1:")
    assert [step.action for step in outcome.steps] == ["create_cluster", "create_nodegroup"]
    eks = boto("eks")
    cluster = eks.describe_cluster(name=name)["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert cluster["tags"] == target.tags
    assert len(cluster["resourcesVpcConfig"]["subnetIds"]) >= 2
    nodegroup = eks.describe_nodegroup(clusterName=name, nodegroupName="ng-1")["nodegroup"]
    assert nodegroup["tags"] == target.tags
    assert nodegroup["scalingConfig"] == {"minSize": 3, "maxSize": 3, "desiredSize": 3}
    assert nodegroup["instanceTypes"] == ["t3.medium"]
    assert nodegroup["capacityType"] == "ON_DEMAND"
    assert nodegroup["subnets"] == cluster["resourcesVpcConfig"]["subnetIds"]
    # The root volume is the launch template's: 40 GiB gp3, tagged like the rest.
    ec2 = boto("ec2")
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=nodegroup["launchTemplate"]["id"])
    (data,) = [version["LaunchTemplateData"] for version in versions["LaunchTemplateVersions"]]
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 40
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeType"] == "gp3"
    assert {spec["ResourceType"] for spec in data["TagSpecifications"]} >= {"instance", "volume"}

    again = provider.create(target)
    assert again.state == State.READY
    assert again.steps == []
    assert again.outputs == outcome.outputs
    assert again.secret == outcome.secret
    assert eks.list_clusters()["clusters"] == [name]
    assert eks.list_nodegroups(clusterName=name)["nodegroups"] == ["ng-1"]


def test_the_kubeconfig_is_valid_with_the_aws_exec_entry_and_the_name_asked_for(eks_template, boto):
    target = make_target(eks_template)
    outcome = providers.get("aws-eks").create(target)
    name = outcome.outputs["cluster_name"]
    cluster = boto("eks").describe_cluster(name=name)["cluster"]

    config = yaml.safe_load(outcome.secret)

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
    (user,) = config["users"]
    assert user["user"]["exec"]["args"] == ["eks", "get-token", "--cluster-name", name, "--region", "eu-west-1"]
    loader = KubeConfigLoader(config_dict=config)
    assert loader.current_context["context"]["cluster"] == cluster["arn"]


# --- a template edit changes what is created, and purge removes all of it -------------------------


def test_an_edited_template_is_created_as_written_and_purged_entirely(eks_template, boto):
    template = template_services.update_template(template=eks_template, body=EDITED_BODY)
    target = make_target(template)
    name = f"team-a-dev-{target.short_id}"
    assert target.plan.lines == [
        f"EKS cluster {name}, Kubernetes 1.30, eu-west-1",
        "managed node group ng-1: 2 x t3.medium, 20 GiB gp3",
        "managed node group ng-spot: 3 x t3.large/m5.large spot (scales 1-5), 50 GiB gp3",
        "addon vpc-cni v1.18.0",
    ]
    provider = providers.get("aws-eks")

    outcome = provider.create(target)

    assert outcome.state == State.READY
    assert [step.action for step in outcome.steps] == [
        "create_cluster",
        "create_nodegroup",
        "create_nodegroup",
        "skip_addons",  # the emulator has no add-on API
    ]
    assert "the AWS emulator has no add-on API" in outcome.steps[-1].detail
    eks = boto("eks")
    cluster = eks.describe_cluster(name=name)["cluster"]
    assert cluster["version"] == "1.30"
    assert cluster["tags"] == {"team": "a", **target.tags}
    assert sorted(eks.list_nodegroups(clusterName=name)["nodegroups"]) == ["ng-1", "ng-spot"]
    general = eks.describe_nodegroup(clusterName=name, nodegroupName="ng-1")["nodegroup"]
    assert general["labels"] == {"role": "general"}
    assert general["capacityType"] == "ON_DEMAND"
    assert general["version"] == "1.30"
    spot = eks.describe_nodegroup(clusterName=name, nodegroupName="ng-spot")["nodegroup"]
    assert spot["scalingConfig"] == {"minSize": 1, "maxSize": 5, "desiredSize": 3}
    assert spot["capacityType"] == "SPOT"
    assert spot["instanceTypes"] == ["t3.large", "m5.large"]
    assert spot["labels"] == {"role": "batch"}
    assert spot["taints"] == [{"key": "dedicated", "value": "batch", "effect": "NO_SCHEDULE"}]
    assert spot["tags"] == {"team": "a", "cost-center": "42", **target.tags}
    assert provider.status(target).state == State.READY
    ec2 = boto("ec2")
    templates = ec2.describe_launch_templates()["LaunchTemplates"]
    assert sorted(t["LaunchTemplateName"] for t in templates) == [f"{name}-ng-1", f"{name}-ng-spot"]

    purged = provider.delete(target)

    assert purged.state == State.ABSENT
    assert [step.action for step in purged.steps] == [
        "delete_nodegroups",
        "delete_nodegroups",
        "delete_cluster",
        "delete_launch_template",
        "delete_launch_template",
    ]
    assert _error_code(eks.describe_cluster, name=name) == "ResourceNotFoundException"
    assert eks.list_clusters()["clusters"] == []
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []
    assert provider.delete(target).state == State.ABSENT
    assert provider.status(target).state == State.ABSENT


def test_status_is_ready_only_when_every_planned_node_group_is_there(eks_template, boto):
    template = template_services.update_template(template=eks_template, body=EDITED_BODY)
    target = make_target(template)
    provider = providers.get("aws-eks")
    assert provider.status(target).state == State.ABSENT
    created = provider.create(target)
    assert provider.status(target).secret == created.secret

    boto("eks").delete_nodegroup(clusterName=created.outputs["cluster_name"], nodegroupName="ng-spot")

    status = provider.status(target)
    assert status.state == State.CREATING
    assert status.outputs["nodegroup_status"] == {"ng-1": "ACTIVE", "ng-spot": "ABSENT"}


def test_delete_removes_node_groups_added_by_hand_too(eks_template, boto):
    target = make_target(eks_template)
    provider = providers.get("aws-eks")
    name = provider.create(target).outputs["cluster_name"]
    eks = boto("eks")
    existing = eks.describe_nodegroup(clusterName=name, nodegroupName="ng-1")["nodegroup"]
    eks.create_nodegroup(
        clusterName=name, nodegroupName="ng-extra", subnets=existing["subnets"], nodeRole=existing["nodeRole"]
    )

    outcome = provider.delete(target)

    assert [step.action for step in outcome.steps][:3] == ["delete_nodegroups", "delete_nodegroups", "delete_cluster"]
    assert eks.list_clusters()["clusters"] == []


def test_requests_of_the_same_name_do_not_collide_and_others_are_never_adopted(eks_template, boto):
    first, second = make_target(eks_template), make_target(eks_template)
    provider = providers.get("aws-eks")
    created = provider.create(first)
    provider.create(second)
    eks = boto("eks")
    assert len(eks.list_clusters()["clusters"]) == 2
    provider.delete(first)
    assert eks.list_clusters()["clusters"] == [f"team-a-dev-{second.short_id}"]

    # Another request's cluster under the name a third request would use.
    third = make_target(eks_template)
    role = eks.describe_cluster(name=f"team-a-dev-{second.short_id}")["cluster"]["roleArn"]
    name = f"team-a-dev-{third.short_id}"
    eks.create_cluster(name=name, roleArn=role, resourcesVpcConfig={}, tags=second.tags)
    with pytest.raises(ProviderError, match=f"belongs to request {second.request_id}"):
        provider.create(third)
    with pytest.raises(ProviderError, match=f"belongs to request {second.request_id}"):
        provider.delete(third)
    assert eks.describe_cluster(name=name)["cluster"]["status"] == "ACTIVE"
    assert created.outputs["cluster_name"] not in eks.list_clusters()["clusters"]


def test_the_document_names_subnets_and_the_service_role(eks_template, boto, settings):
    subnets = [subnet["SubnetId"] for subnet in boto("ec2").describe_subnets()["Subnets"]][:2]
    role = "arn:aws:iam::123456789012:role/team-a-eks"
    body = eks_template.body + f"vpc:\n  subnets: [{subnets[0]}, {subnets[1]}]\niam:\n  serviceRoleARN: {role}\n"
    template = template_services.update_template(template=eks_template, body=body)

    outcome = providers.get("aws-eks").create(make_target(template))

    cluster = boto("eks").describe_cluster(name=outcome.outputs["cluster_name"])["cluster"]
    assert cluster["roleArn"] == role
    assert cluster["resourcesVpcConfig"]["subnetIds"] == subnets


def test_eksctl_subnets_by_zone_are_accepted():
    provider = providers.get("aws-eks")
    spec = provider.plan(
        [document(vpc={"subnets": {"private": {"eu-west-1a": {"id": "subnet-0a"}, "eu-west-1b": {"id": "subnet-0b"}}}})]
    ).spec
    assert aws_eks._subnets_of(spec) == ["subnet-0a", "subnet-0b"]


def test_on_real_aws_the_roles_are_needed_and_the_configured_subnets_used(eks_template, settings, boto):
    settings.AWS_EMULATOR = False  # as with real AWS (the endpoint still points at the emulator)
    target = make_target(eks_template)
    with pytest.raises(ProviderError, match="EKS_CLUSTER_ROLE_ARN and EKS_NODE_ROLE_ARN must be set"):
        providers.get("aws-eks").create(target)

    subnets = [subnet["SubnetId"] for subnet in boto("ec2").describe_subnets()["Subnets"]][:2]
    settings.EKS_CLUSTER_ROLE_ARN = "arn:aws:iam::123456789012:role/eks-cluster"
    settings.EKS_NODE_ROLE_ARN = "arn:aws:iam::123456789012:role/eks-node"
    settings.EKS_SUBNET_IDS = subnets

    outcome = providers.get("aws-eks").create(target)

    eks = boto("eks")
    cluster = eks.describe_cluster(name=outcome.outputs["cluster_name"])["cluster"]
    assert cluster["roleArn"] == settings.EKS_CLUSTER_ROLE_ARN
    assert cluster["resourcesVpcConfig"]["subnetIds"] == subnets
    nodegroup = eks.describe_nodegroup(clusterName=cluster["name"], nodegroupName="ng-1")["nodegroup"]
    assert nodegroup["nodeRole"] == settings.EKS_NODE_ROLE_ARN
    assert boto("iam", "us-east-1").list_roles()["Roles"] == []  # no placeholder roles outside the emulator


def test_emulator_placeholder_roles_are_created_once(eks_template, boto):
    providers.get("aws-eks").create(make_target(eks_template))
    providers.get("aws-eks").create(make_target(eks_template, {**PARAMETERS, "region": "us-east-1"}))
    roles = sorted(role["RoleName"] for role in boto("iam", "us-east-1").list_roles()["Roles"])
    assert roles == ["cloudassist-emulator-eks-cluster", "cloudassist-emulator-eks-node"]


def test_an_unreachable_endpoint_is_transient(eks_template, settings):
    target = make_target(eks_template)
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{embedded.free_port()}"
    settings.AWS_MAX_ATTEMPTS = 1
    with pytest.raises(TransientProviderError, match="is unreachable"):
        providers.get("aws-eks").create(target)


# --- what is refused when a template is saved -----------------------------------------------------


def _save_error(eks_template, body: str) -> dict:
    with pytest.raises(ValidationError) as info:
        template_services.update_template(template=eks_template, body=body)
    return info.value.message_dict


def test_an_unsupported_field_is_refused_at_save_naming_it(eks_template):
    body = eks_template.body.replace("    volumeType: gp3\n", "    volumeType: gp3\n    ami: ami-0123456789abcdef0\n")
    assert _save_error(eks_template, body) == {"body.managedNodeGroups[0].ami": ["not supported by aws-eks"]}


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"managedNodeGroups": []}, "body.managedNodeGroups", "at least one node group"),
        (
            {"nodeGroups": [{"name": "ng-1"}]},
            "body.nodeGroups[0].name",
            "the node group name 'ng-1' is used twice",
        ),
        (
            {"managedNodeGroups": [{"name": "a"}, {"name": "b", "desiredCapacity": 2, "minSize": 3, "maxSize": 4}]},
            "body.managedNodeGroups[1].minSize",
            "minSize 3 is more than desiredCapacity 2",
        ),
        (
            {"managedNodeGroups": [{"name": "a", "desiredCapacity": 3, "maxSize": 2}]},
            "body.managedNodeGroups[0].maxSize",
            "maxSize 2 is less than desiredCapacity 3",
        ),
        (
            {"managedNodeGroups": [{"name": "a", "instanceType": "t3.large", "instanceTypes": ["t3.large"]}]},
            "body.managedNodeGroups[0].instanceTypes",
            "not both",
        ),
        ({"metadata": {"name": "team-a", "region": "mars-east-1"}}, "body.metadata.region", "'mars-east-1' is not"),
        (
            {"metadata": {"name": "team-a", "region": "eu-west-1", "tags": {"cloudassist-request": "x"}}},
            "body.metadata.tags",
            "set by CloudAssist",
        ),
        (
            {"managedNodeGroups": [{"name": "a", "taints": [{"key": "k", "effect": "NoWay"}]}]},
            "body.managedNodeGroups[0].taints[0].effect",
            "is not one of",
        ),
        ({"apiVersion": "eksctl.io/v1alpha4"}, "body.apiVersion", "eksctl.io/v1alpha5"),
        ({"fargateProfiles": []}, "body.fargateProfiles", "not supported by aws-eks"),
    ],
)
def test_plugin_checks_name_the_document_path(changes, path, message):
    with pytest.raises(ValidationError) as info:
        providers.get("aws-eks").plan([document(**changes)])
    errors = info.value.message_dict
    assert path in errors, errors
    assert message in " ".join(errors[path])


# --- the estimate is the priced plan --------------------------------------------------------------


def test_the_estimate_prices_exactly_the_plan(eks_template):
    template = template_services.update_template(template=eks_template, body=EDITED_BODY)
    plan = plan_of(template)

    estimate = planning.price(plan, 10)

    items = estimate.line_items
    assert [item.description for item in items] == [
        f"EKS control plane {plan.spec['metadata']['name']} (eu-west-1)",
        "2 x t3.medium (eu-west-1, on-demand Linux, node group ng-1)",
        "2 x 20 GB gp3 (eu-west-1)",
        "3 x t3.large (eu-west-1, on-demand Linux, node group ng-spot, spot: priced at on-demand as an upper bound)",
        "3 x 50 GB gp3 (eu-west-1)",
    ]
    planned = {r.name: r.attributes for r in plan.resources if r.kind == "managed node group"}
    assert items[1].quantity == planned["ng-1"]["desired_capacity"] == 2
    assert items[3].quantity == planned["ng-spot"]["desired_capacity"] == 3
    assert items[0].usd == Decimal("0.10") * 10
    assert estimate.machine_hours == Decimal(50)
    assert estimate.disk_gb_hours == Decimal((2 * 20 + 3 * 50) * 10)
    assert any("Spot capacity is priced at the on-demand price" in note for note in estimate.notes)


def test_a_document_without_defaults_gets_the_schema_defaults_in_plan_and_estimate(eks_template):
    plan = providers.get("aws-eks").plan([document()], request_id=str(ObjectId()))
    (group,) = plan.spec["managedNodeGroups"]
    assert (group["desiredCapacity"], group["minSize"], group["maxSize"]) == (2, 2, 2)
    assert (group["volumeSize"], group["volumeType"], group["spot"]) == (80, "gp3", False)
    assert plan.lines[1] == "managed node group ng-1: 2 x t3.medium, 80 GiB gp3"

    estimate = planning.price(plan, 1)

    descriptions = [item.description for item in estimate.line_items]
    assert descriptions[1:] == [
        "2 x t3.medium (eu-west-1, on-demand Linux, node group ng-1)",
        "2 x 80 GB gp3 (eu-west-1)",
    ]
    defaults = providers.get("aws-eks").plan(
        [document(managedNodeGroups=[{"name": "ng-1"}])], request_id=str(ObjectId())
    )
    assert defaults.spec["managedNodeGroups"][0]["instanceType"] == "m5.large"
    assert planning.price(defaults, 1).line_items[1].description.startswith("2 x m5.large")


def test_a_price_that_is_missing_names_the_document_path(eks_template):
    plan = providers.get("aws-eks").plan(
        [document(managedNodeGroups=[{"name": "a"}, {"name": "b", "instanceTypes": ["x9.huge"]}])]
    )
    with pytest.raises(ValidationError) as info:
        planning.price(plan, 1)
    assert "body.managedNodeGroups[1].instanceTypes[0]" in info.value.message_dict


# --- reconciliation -------------------------------------------------------------------------------


def test_inventory_finds_a_cluster_made_by_hand_with_the_tag_and_remove_deletes_it(eks_template, boto, settings):
    eks = boto("eks")
    role = "arn:aws:iam::123456789012:role/by-hand"
    eks.create_cluster(
        name="orphan",
        roleArn=role,
        resourcesVpcConfig={},
        tags={"managed-by": "cloudassist", "cloudassist-request": "r1"},
    )
    eks.create_nodegroup(
        clusterName="orphan", nodegroupName="ng", subnets=["subnet-1"], nodeRole=role, instanceTypes=["t3.medium"]
    )
    eks.create_cluster(name="not-ours", roleArn=role, resourcesVpcConfig={}, tags={"team": "b"})
    provider = providers.get("aws-eks")

    settings.AWS_INVENTORY_REGIONS = ["us-east-1"]
    assert provider.inventory() == []  # not where it looks
    settings.AWS_INVENTORY_REGIONS = []
    found = provider.inventory()  # AWS_REGION and the priced regions: eu-west-1 too
    assert found == provider.inventory(["eu-west-1"])

    (orphan,) = found
    assert (orphan.kind, orphan.name, orphan.request_id, orphan.region) == ("EKS cluster", "orphan", "r1", "eu-west-1")
    assert orphan.created_at is not None
    assert orphan.detail["nodegroups"] == ["ng"]
    assert (
        orphan.usd_per_hour == Decimal("0.10") + 2 * Prices().instance("t3.medium", "eu-west-1", where="x").usd_per_hour
    )  # moto's default scaling is 2

    steps = provider.remove(orphan)

    assert [step.action for step in steps] == ["delete_nodegroups", "delete_cluster"]
    assert eks.list_clusters()["clusters"] == ["not-ours"]
    with pytest.raises(ProviderError, match="not tagged managed-by"):
        provider.remove(Found(kind="EKS cluster", name="not-ours", request_id=None, region="eu-west-1"))
    assert eks.list_clusters()["clusters"] == ["not-ours"]


def test_missing_reports_what_was_deleted_behind_the_plugins_back(eks_template, boto):
    template = template_services.update_template(template=eks_template, body=EDITED_BODY)
    target = make_target(template)
    provider = providers.get("aws-eks")
    name = provider.create(target).outputs["cluster_name"]
    assert provider.missing(target) == []

    eks = boto("eks")
    eks.delete_nodegroup(clusterName=name, nodegroupName="ng-spot")

    assert provider.missing(target) == [f"managed node group ng-spot of EKS cluster {name}"]
    provider.delete(target)
    assert provider.missing(target) == [f"EKS cluster {name}"]


def test_every_choice_of_the_seeded_template_is_priced_as_planned(eks_template):
    properties = eks_template.parameters_schema["properties"]
    prices = Prices()
    for region in properties["region"]["enum"]:
        for instance_type in properties["instance_type"]["enum"]:
            parameters = {"cluster_name": "team-a", "region": region, "instance_type": instance_type}
            plan = plan_of(eks_template, parameters)
            items = planning.price(plan, 8, prices).line_items
            assert [item.quantity for item in items] == [1, 2, 2 * 20]  # the template's defaults
            assert items[1].description.startswith(f"2 x {instance_type} ({region}")
            assert items[2].description == f"2 x 20 GB gp3 ({region})"
