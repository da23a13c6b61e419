"""Templates are the truth, through the API with real servers (MongoDB, Redis, an rq burst worker,
moto over HTTP): an edited template is planned and priced at submission, the stored plan is what
gets created even when the template changes afterwards, purge removes all of it, and the reconcile
job finds an orphan made by hand and a resource deleted behind the product's back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from providers import aws
from provisioning import plans
from provisioning.choices import RequestStatus
from provisioning.models import Orphan, ProvisionRequest
from provisioning.reconciliation import reconcile_resources
from provisioning.tests.test_end_to_end import URL, queues, work  # noqa: F401 -- the fixture
from quotas.models import InstancePrice
from templates import planning

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("moto_endpoint")]

EDITED_EKS = """\
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: {{ cluster_name }}
  region: {{ region }}
  version: "1.30"
managedNodeGroups:
  - name: ng-1
    instanceType: {{ instance_type }}
    desiredCapacity: {{ desired_capacity }}
    volumeSize: {{ volume_size }}
    volumeType: gp3
  - name: ng-spot
    instanceType: t3.large
    desiredCapacity: 3
    minSize: 1
    maxSize: 5
    volumeSize: 50
    spot: true
    labels:
      workload: batch
"""

EDITED_EC2 = """\
apiVersion: cloudassist.io/v1alpha1
kind: EC2Instances
metadata:
  region: {{ region }}
spec:
  count: 2
  instanceType: {{ instance_type }}
  imageId: resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
  rootVolume:
    size: 50
    type: gp3
"""


def _edit(admin_client_api, template: str, body: str) -> None:
    response = admin_client_api.patch(f"/api/v1/templates/{template}/", {"body": body}, format="json")
    assert response.status_code == 200, response.json()


def _submit(dev_client, template: str, parameters: dict) -> ProvisionRequest:
    created = dev_client.post(URL, {"template": template, "parameters": parameters}, format="json")
    assert created.status_code == 201, created.json()
    return ProvisionRequest.objects.get(pk=created.json()["id"])


def _deploy(request, devops_client, queues) -> ProvisionRequest:  # noqa: F811
    work(queues)  # analyse
    assert devops_client.post(f"{URL}{request.pk}/approve/", {"note": "go"}, format="json").status_code == 200
    work(queues)  # provision
    request.refresh_from_db()
    assert request.status == RequestStatus.DEPLOYED, request.failure_reason
    return request


def _purge(request, dev_client, queues) -> None:  # noqa: F811
    assert dev_client.post(f"{URL}{request.pk}/purge/", {"note": "done"}, format="json").status_code == 200
    work(queues)
    request.refresh_from_db()
    assert request.status == RequestStatus.PURGED, request.failure_reason


def test_an_edited_eks_template_is_created_as_planned_even_if_edited_again(
    templates,
    admin_client_api,
    dev_client,
    devops_client,
    queues,  # noqa: F811
):
    _edit(admin_client_api, "basic-eks-cluster", EDITED_EKS)
    request = _submit(dev_client, "basic-eks-cluster", {"cluster_name": "team-b", "region": "us-east-1"})
    cluster = f"team-b-{str(request.pk)[-8:]}"

    # The plan names what will be created, and the estimate is the price of exactly that plan.
    summaries = [resource["summary"] for resource in request.plan["resources"]]
    assert any(cluster in line and "1.30" in line for line in summaries), summaries
    assert any("ng-spot" in line and "3 x t3.large" in line and "spot" in line for line in summaries), summaries
    assert request.cost_estimate == planning.price(plans.plan_of(request), request.cost_estimate["hours"]).as_dict()
    nodes = [item for item in request.cost_estimate["line_items"] if item["unit"] == "instances"]
    assert sorted((item["quantity"], "t3.large" in item["description"]) for item in nodes) == [
        ("2", False),
        ("3", True),
    ]

    # The template changes after submission: the request still gets what its plan said.
    _edit(admin_client_api, "basic-eks-cluster", EDITED_EKS.split("  - name: ng-spot", maxsplit=1)[0])
    request = _deploy(request, devops_client, queues)
    eks = aws.client("eks", "us-east-1")
    assert eks.describe_cluster(name=cluster)["cluster"]["version"] == "1.30"
    assert sorted(eks.list_nodegroups(clusterName=cluster)["nodegroups"]) == ["ng-1", "ng-spot"]
    spot = eks.describe_nodegroup(clusterName=cluster, nodegroupName="ng-spot")["nodegroup"]
    assert (spot["capacityType"], spot["scalingConfig"]["desiredSize"], spot["labels"]) == (
        "SPOT",
        3,
        {"workload": "batch"},
    )

    # Deleted behind the product's back: the reconcile job marks the request drifted.
    eks.delete_nodegroup(clusterName=cluster, nodegroupName="ng-spot")
    reconcile_resources(only=["aws-eks"])
    request.refresh_from_db()
    assert request.drift, "not marked drifted"
    assert any("ng-spot" in line for line in request.drift["missing"]), request.drift

    _purge(request, dev_client, queues)
    assert eks.list_clusters()["clusters"] == []


def test_an_edited_ec2_template_makes_two_50_gib_instances_and_purge_removes_them(
    templates,
    admin_client_api,
    dev_client,
    devops_client,
    queues,  # noqa: F811
):
    _edit(admin_client_api, "ec2-instance", EDITED_EC2)
    request = _submit(dev_client, "ec2-instance", {"region": "us-east-1", "instance_type": "t3.small"})
    volumes = [item for item in request.cost_estimate["line_items"] if item["unit"] == "GB"]
    assert [item["quantity"] for item in volumes] == ["100"]  # 2 x 50 GB, as planned
    request = _deploy(request, devops_client, queues)

    ec2 = aws.client("ec2", "us-east-1")
    tagged = [{"Name": "tag:cloudassist-request", "Values": [str(request.pk)]}]
    running = [
        instance
        for reservation in ec2.describe_instances(Filters=tagged)["Reservations"]
        for instance in reservation["Instances"]
        if instance["State"]["Name"] != "terminated"
    ]
    assert [instance["InstanceType"] for instance in running] == ["t3.small", "t3.small"]
    disks = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [i["InstanceId"] for i in running]}]
    )
    assert sorted((volume["Size"], volume["VolumeType"]) for volume in disks["Volumes"]) == [(50, "gp3"), (50, "gp3")]

    _purge(request, dev_client, queues)
    left = [
        instance["State"]["Name"]
        for reservation in ec2.describe_instances(Filters=tagged)["Reservations"]
        for instance in reservation["Instances"]
    ]
    assert set(left) <= {"terminated"}


def test_the_reconcile_job_finds_an_orphan_made_by_hand_and_purges_it_after_the_grace(templates, settings):
    settings.ORPHAN_PURGE_AFTER_HOURS = 2
    ec2 = aws.client("ec2", "us-east-1")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    made = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "managed-by", "Value": "cloudassist"},
                    {"Key": "cloudassist-request", "Value": "gone"},
                ],
            }
        ],
    )["Instances"][0]["InstanceId"]
    untagged = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]

    reconcile_resources(only=["aws-ec2"])
    orphan = Orphan.objects.get(name=made)
    assert (orphan.provider, orphan.state, orphan.request_tag) == ("aws-ec2", "FOUND", "gone")
    assert orphan.usd_per_hour == InstancePrice.objects.get(instance_type="t3.micro", region="us-east-1").usd_per_hour
    assert not Orphan.objects.filter(name=untagged["InstanceId"]).exists()  # not ours: never touched

    reconcile_resources(only=["aws-ec2"], now=timezone.now() + timedelta(hours=3))
    orphan.refresh_from_db()
    assert orphan.state == "PURGED"
    states = {
        instance["InstanceId"]: instance["State"]["Name"]
        for reservation in ec2.describe_instances()["Reservations"]
        for instance in reservation["Instances"]
    }
    assert states[made] in ("shutting-down", "terminated")
    assert states[untagged["InstanceId"]] == "running"


@pytest.mark.parametrize("template", ["basic-eks-cluster", "dev-namespace", "s3-bucket", "ec2-instance"])
def test_every_seeded_template_is_estimated_at_the_price_of_its_stored_plan(templates, dev_client, template):
    """The estimate that sets the quota hold and the auto-approval threshold is the plan's price."""
    parameters = planning.example_parameters(templates[template].parameters_schema)
    request = _submit(dev_client, template, parameters)
    plan = plans.plan_of(request)
    assert plan.provider == templates[template].provider
    assert [resource["summary"] for resource in request.plan["resources"]] == plan.lines
    assert request.cost_estimate == planning.price(plan, request.cost_estimate["hours"]).as_dict()
