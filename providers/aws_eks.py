"""The ``aws-eks`` provider: an EKS cluster with one managed node group, for one request.

``create`` creates the cluster and then the node group ``ng-1`` from the template's
parameters (``cluster_name``, ``region``, ``instance_type``, ``desired_capacity``,
``volume_size``), tags both with the request's tags, waits until they are ACTIVE, and returns
a kubeconfig that authenticates with ``aws eks get-token``. ``delete`` removes the node groups
(and Fargate profiles), then the cluster.

The cluster is named ``<cluster_name>-<last 8 characters of the request id>``: EKS names are
unique per account and region, so two requests for the same ``cluster_name`` never collide,
and a retry finds the cluster it started. The kubeconfig's context keeps the name asked for.
A cluster tagged for another request is never adopted or deleted.

Waiting is bounded by ``AWS_WAIT_SECONDS``; a cluster that is not ready by then raises
TransientProviderError, and the job's retry carries on from where it is.

Real AWS needs ``EKS_CLUSTER_ROLE_ARN`` and ``EKS_NODE_ROLE_ARN`` (IAM roles for the control
plane and the nodes); subnets come from ``EKS_SUBNET_IDS`` or the default VPC of the region.
With the emulator, placeholder roles are created in it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml
from botocore.exceptions import ClientError
from django.conf import settings

from providers import aws, register
from providers.base import Outcome, Provider, ProviderError, State, Step, Target, TransientProviderError

NODEGROUP = "ng-1"
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
EMULATOR_CLUSTER_ROLE = "cloudassist-emulator-eks-cluster"
EMULATOR_NODE_ROLE = "cloudassist-emulator-eks-node"
MAX_ZONES = 3

# The template asks for ^[a-z][a-z0-9-]{1,38}[a-z0-9]$; EKS allows 100 characters, 9 go to the suffix.
_CLUSTER_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]{0,89}")
_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
_NOT_FOUND = "ResourceNotFoundException"
# EKS statuses that are not (yet) READY, for status().
_CLUSTER_STATES = {"DELETING": State.DELETING, "FAILED": State.FAILED}
_NODEGROUP_STATES = {
    "CREATING": State.CREATING,
    "DELETING": State.DELETING,
    "CREATE_FAILED": State.FAILED,
    "DELETE_FAILED": State.FAILED,
}
_IN_USE = "ResourceInUseException"


@dataclass(frozen=True)
class Spec:
    requested_name: str
    cluster: str
    region: str
    instance_type: str
    desired_capacity: int
    volume_size: int


def spec_for(target: Target) -> Spec:
    requested = aws.matching(
        target,
        "cluster_name",
        _CLUSTER_NAME,
        what="a cluster name (letters, digits and hyphens, starting with a letter, at most 90 characters)",
    )
    return Spec(
        requested_name=requested,
        cluster=f"{requested}-{target.short_id}",
        region=aws.region(target, "eks"),
        instance_type=aws.matching(target, "instance_type", _INSTANCE_TYPE, "t3.medium", what="an EC2 instance type"),
        desired_capacity=aws.integer(target, "desired_capacity", 2, minimum=1, maximum=100),
        volume_size=aws.integer(target, "volume_size", 20, minimum=1, maximum=16384),
    )


def build_kubeconfig(cluster: dict[str, Any], *, region: str, context: str) -> str:
    """A kubeconfig for ``cluster`` (describe_cluster's answer) that gets tokens like
    ``aws eks update-kubeconfig`` does: ``aws eks get-token`` with the user's own AWS identity."""
    arn = cluster["arn"]
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": arn,
                "cluster": {
                    "server": cluster["endpoint"],
                    "certificate-authority-data": (cluster.get("certificateAuthority") or {}).get("data", ""),
                },
            }
        ],
        "users": [
            {
                "name": arn,
                "user": {
                    "exec": {
                        "apiVersion": EXEC_API_VERSION,
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", cluster["name"], "--region", region],
                        "interactiveMode": "IfAvailable",
                        "provideClusterInfo": False,
                    }
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": arn, "user": arn}}],
        "current-context": context,
    }
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def _describe_cluster(eks, name: str) -> dict[str, Any] | None:
    with aws.translate(f"describe EKS cluster {name}"):
        try:
            return eks.describe_cluster(name=name)["cluster"]
        except ClientError as exc:
            if aws.is_error(exc, _NOT_FOUND):
                return None
            raise


def _describe_nodegroup(eks, cluster: str, nodegroup: str) -> dict[str, Any] | None:
    with aws.translate(f"describe node group {nodegroup} of EKS cluster {cluster}"):
        try:
            return eks.describe_nodegroup(clusterName=cluster, nodegroupName=nodegroup)["nodegroup"]
        except ClientError as exc:
            if aws.is_error(exc, _NOT_FOUND):
                return None
            raise


def _list(eks, operation: str, key: str, cluster: str) -> list[str]:
    with aws.translate(f"list the {key} of EKS cluster {cluster}"):
        try:
            pages = eks.get_paginator(operation).paginate(clusterName=cluster)
            return [name for page in pages for name in page.get(key, [])]
        except ClientError as exc:
            if aws.is_error(exc, _NOT_FOUND):
                return []
            raise


def _placeholder_role(iam, name: str, service: str) -> str:
    """An IAM role in the emulator standing in for the one an AWS account would provide."""
    with aws.translate(f"create the placeholder IAM role {name} in the emulator"):
        try:
            return iam.get_role(RoleName=name)["Role"]["Arn"]
        except ClientError as exc:
            if not aws.is_error(exc, "NoSuchEntity"):
                raise
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        try:
            return iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description="CloudAssist: placeholder for the AWS emulator",
                Tags=aws.tag_list({"managed-by": "cloudassist"}),
            )["Role"]["Arn"]
        except ClientError as exc:
            if aws.is_error(exc, "EntityAlreadyExists"):
                return iam.get_role(RoleName=name)["Role"]["Arn"]
            raise


ROLES_NOT_CONFIGURED = (
    "EKS_CLUSTER_ROLE_ARN and EKS_NODE_ROLE_ARN must be set to create EKS clusters in AWS "
    "(the IAM roles of the control plane and of the nodes)."
)


def _roles() -> tuple[str, str]:
    """The IAM roles of the control plane and of the nodes."""
    cluster_role, node_role = settings.EKS_CLUSTER_ROLE_ARN, settings.EKS_NODE_ROLE_ARN
    if cluster_role and node_role:
        return cluster_role, node_role
    if not settings.AWS_EMULATOR:
        raise ProviderError(ROLES_NOT_CONFIGURED)
    iam = aws.client("iam")
    return (
        cluster_role or _placeholder_role(iam, EMULATOR_CLUSTER_ROLE, "eks.amazonaws.com"),
        node_role or _placeholder_role(iam, EMULATOR_NODE_ROLE, "ec2.amazonaws.com"),
    )


def _subnets(region: str) -> list[str]:
    """EKS_SUBNET_IDS, or one default subnet in each of the region's first availability zones."""
    if settings.EKS_SUBNET_IDS:
        return list(settings.EKS_SUBNET_IDS)
    ec2 = aws.client("ec2", region)
    with aws.translate(f"find the default VPC's subnets in {region}"):
        pages = ec2.get_paginator("describe_subnets").paginate(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
        subnets = [subnet for page in pages for subnet in page["Subnets"]]
    by_zone: dict[str, str] = {}
    for subnet in sorted(subnets, key=lambda s: (s["AvailabilityZone"], s["SubnetId"])):
        by_zone.setdefault(subnet["AvailabilityZone"], subnet["SubnetId"])
    chosen = list(by_zone.values())[:MAX_ZONES]
    if len(chosen) < 2:
        raise ProviderError(
            f"EKS needs subnets in two availability zones, and {region} has no default VPC with them; "
            "set EKS_SUBNET_IDS."
        )
    return chosen


def _cluster_when_active(eks, name: str):
    cluster = _describe_cluster(eks, name)
    if cluster is None:
        raise ProviderError(f"EKS cluster {name} disappeared while it was being created.")
    if cluster["status"] == "FAILED":
        raise ProviderError(f"EKS cluster {name} FAILED to create; purge the request and ask again.")
    return cluster if cluster["status"] in ("ACTIVE", "UPDATING") else None


def _nodegroup_when_active(eks, cluster: str):
    nodegroup = _describe_nodegroup(eks, cluster, NODEGROUP)
    if nodegroup is None:
        raise ProviderError(f"Node group {NODEGROUP} of EKS cluster {cluster} disappeared while it was being created.")
    if nodegroup["status"] in ("CREATE_FAILED", "DELETE_FAILED"):
        issues = "; ".join(issue.get("message", "") for issue in nodegroup.get("health", {}).get("issues", []))
        raise ProviderError(f"Node group {NODEGROUP} of EKS cluster {cluster} is {nodegroup['status']}: {issues}")
    return nodegroup if nodegroup["status"] in ("ACTIVE", "UPDATING", "DEGRADED") else None


@register("aws-eks")
class EksProvider(Provider):
    label = "AWS EKS"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Real AWS needs the IAM roles (the emulator gets placeholders)."""
        if settings.AWS_EMULATOR or (settings.EKS_CLUSTER_ROLE_ARN and settings.EKS_NODE_ROLE_ARN):
            return None
        return ROLES_NOT_CONFIGURED

    def create(self, target: Target) -> Outcome:
        spec = spec_for(target)
        eks = aws.client("eks", spec.region)
        steps: list[Step] = []
        cluster = _describe_cluster(eks, spec.cluster)
        if cluster is None:
            cluster_role, _ = _roles()
            subnets = _subnets(spec.region)
            with aws.translate(f"create EKS cluster {spec.cluster}"):
                try:
                    eks.create_cluster(
                        name=spec.cluster,
                        roleArn=cluster_role,
                        resourcesVpcConfig={
                            "subnetIds": subnets,
                            "endpointPublicAccess": True,
                            "endpointPrivateAccess": True,
                        },
                        tags=target.tags,
                    )
                except ClientError as exc:
                    if not aws.is_error(exc, _IN_USE):  # created meanwhile: carry on with it
                        raise
            steps.append(
                Step(
                    "create_cluster",
                    f"EKS cluster {spec.cluster} requested in {spec.region}",
                    {"cluster": spec.cluster, "region": spec.region, "subnets": subnets},
                )
            )
        else:
            aws.check_owner(cluster.get("tags") or {}, target, what=f"EKS cluster {spec.cluster}")
            if cluster["status"] == "DELETING":
                raise TransientProviderError(f"EKS cluster {spec.cluster} is being deleted; will create it once gone")
        cluster = aws.wait_for(
            lambda: _cluster_when_active(eks, spec.cluster), what=f"EKS cluster {spec.cluster} is not ACTIVE"
        )

        nodegroup = _describe_nodegroup(eks, spec.cluster, NODEGROUP)
        if nodegroup is None:
            _, node_role = _roles()
            with aws.translate(f"create node group {NODEGROUP} of EKS cluster {spec.cluster}"):
                try:
                    eks.create_nodegroup(
                        clusterName=spec.cluster,
                        nodegroupName=NODEGROUP,
                        scalingConfig={
                            "minSize": spec.desired_capacity,
                            "maxSize": spec.desired_capacity,
                            "desiredSize": spec.desired_capacity,
                        },
                        diskSize=spec.volume_size,
                        instanceTypes=[spec.instance_type],
                        subnets=cluster["resourcesVpcConfig"]["subnetIds"],
                        nodeRole=node_role,
                        tags=target.tags,
                    )
                except ClientError as exc:
                    if not aws.is_error(exc, _IN_USE):
                        raise
            steps.append(
                Step(
                    "create_nodegroup",
                    f"node group {NODEGROUP} requested: {spec.desired_capacity} x {spec.instance_type}, "
                    f"{spec.volume_size} GiB volumes",
                    {"cluster": spec.cluster, "nodegroup": NODEGROUP},
                )
            )
        elif nodegroup["status"] == "DELETING":
            raise TransientProviderError(f"Node group {NODEGROUP} is being deleted; will create it once gone")
        aws.wait_for(
            lambda: _nodegroup_when_active(eks, spec.cluster),
            what=f"node group {NODEGROUP} of EKS cluster {spec.cluster} is not ACTIVE",
        )
        return self._ready(spec, cluster, steps)

    def status(self, target: Target) -> Outcome:
        spec = spec_for(target)
        eks = aws.client("eks", spec.region)
        cluster = _describe_cluster(eks, spec.cluster)
        if cluster is None:
            return Outcome(State.ABSENT)
        aws.check_owner(cluster.get("tags") or {}, target, what=f"EKS cluster {spec.cluster}")
        outputs = {"cluster_name": spec.cluster, "region": spec.region, "cluster_status": cluster["status"]}
        if cluster["status"] not in ("ACTIVE", "UPDATING"):
            return Outcome(_CLUSTER_STATES.get(cluster["status"], State.CREATING), outputs=outputs)
        nodegroup = _describe_nodegroup(eks, spec.cluster, NODEGROUP)
        outputs["nodegroup_status"] = nodegroup["status"] if nodegroup else "ABSENT"
        state = _NODEGROUP_STATES.get(nodegroup["status"] if nodegroup else "CREATING", State.READY)
        if state != State.READY:
            return Outcome(state, outputs=outputs)
        return self._ready(spec, cluster, [])

    def delete(self, target: Target) -> Outcome:
        spec = spec_for(target)
        eks = aws.client("eks", spec.region)
        cluster = _describe_cluster(eks, spec.cluster)
        if cluster is None:
            return Outcome(State.ABSENT, steps=[Step("delete", f"EKS cluster {spec.cluster} is already gone")])
        aws.check_owner(cluster.get("tags") or {}, target, what=f"EKS cluster {spec.cluster}")
        steps: list[Step] = []
        for operation, key, delete, argument in (
            ("list_nodegroups", "nodegroups", eks.delete_nodegroup, "nodegroupName"),
            ("list_fargate_profiles", "fargateProfileNames", eks.delete_fargate_profile, "fargateProfileName"),
        ):
            for name in _list(eks, operation, key, spec.cluster):
                with aws.translate(f"delete {name} of EKS cluster {spec.cluster}"):
                    try:
                        delete(clusterName=spec.cluster, **{argument: name})
                    except ClientError as exc:
                        if not aws.is_error(exc, _NOT_FOUND, _IN_USE):  # gone, or already being deleted
                            raise
                steps.append(Step("delete_" + key, f"{name} of EKS cluster {spec.cluster} deleted", {"name": name}))

        def attachments_gone():
            attached = _list(eks, "list_nodegroups", "nodegroups", spec.cluster)
            attached += _list(eks, "list_fargate_profiles", "fargateProfileNames", spec.cluster)
            return True if not attached else None

        aws.wait_for(attachments_gone, what=f"the node groups of EKS cluster {spec.cluster} are still being deleted")
        with aws.translate(f"delete EKS cluster {spec.cluster}"):
            try:
                eks.delete_cluster(name=spec.cluster)
            except ClientError as exc:
                if aws.is_error(exc, _IN_USE):
                    raise TransientProviderError(f"EKS cluster {spec.cluster} is still in use; will retry") from exc
                if not aws.is_error(exc, _NOT_FOUND):
                    raise
        steps.append(Step("delete_cluster", f"EKS cluster {spec.cluster} deleted", {"cluster": spec.cluster}))
        aws.wait_for(
            lambda: True if _describe_cluster(eks, spec.cluster) is None else None,
            what=f"EKS cluster {spec.cluster} is still being deleted",
        )
        return Outcome(State.ABSENT, steps=steps)

    def _ready(self, spec: Spec, cluster: dict[str, Any], steps: list[Step]) -> Outcome:
        return Outcome(
            State.READY,
            outputs={
                "cluster_name": cluster["name"],
                "cluster_arn": cluster["arn"],
                "endpoint": cluster["endpoint"],
                "region": spec.region,
                "kubernetes_version": cluster.get("version"),
                "nodegroup": NODEGROUP,
                "instance_type": spec.instance_type,
                "desired_capacity": spec.desired_capacity,
            },
            secret=build_kubeconfig(cluster, region=spec.region, context=spec.requested_name),
            secret_kind="kubeconfig",
            steps=steps,
        )
