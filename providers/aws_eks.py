"""The ``aws-eks`` plugin: an eksctl ``ClusterConfig`` (``eksctl.io/v1alpha5``) applied as written.

The template renders one ClusterConfig document. The supported subset (anything else is refused
when the template is saved, naming the field, e.g. ``body.managedNodeGroups[0].ami: not supported
by aws-eks``):

- ``apiVersion: eksctl.io/v1alpha5``, ``kind: ClusterConfig``;
- ``metadata``: ``name`` and ``region`` (required; a region where EKS exists), ``version`` (the
  Kubernetes version, ``"1.30"``; EKS's default when absent), ``tags`` (a string map, on the
  cluster, its node groups, their launch templates, instances and volumes);
- ``nodeGroups`` and ``managedNodeGroups`` (at least one node group in all; names unique across
  both lists), each with ``name`` (required), ``instanceType`` (default ``m5.large``, eksctl's) or
  ``instanceTypes`` (not both), ``desiredCapacity`` (default 2), ``minSize`` and ``maxSize``
  (``desiredCapacity`` when absent; ``minSize <= desiredCapacity <= maxSize``), ``volumeSize``
  (GiB, default 80) and ``volumeType`` (``gp3`` by default, or ``gp2``), ``labels``, ``taints``
  (eksctl's list of ``{key, value, effect}``, effect ``NoSchedule``, ``PreferNoSchedule`` or
  ``NoExecute``), ``tags``, ``spot`` (SPOT capacity, default false);
- ``vpc.subnets``: a list of subnet ids, or eksctl's ``{private|public: {<az>: {id: subnet-...}}}``;
  without it, ``EKS_SUBNET_IDS`` or one default subnet in each of the region's first three zones;
- ``iam.serviceRoleARN``: the control plane's role (else ``EKS_CLUSTER_ROLE_ARN``);
- ``addons``: a list of ``{name, version}`` (``version: latest`` or none: EKS's default).

Defaults live in ``document_schema`` only (the one place besides the template's parameter schema);
``check`` fills in ``minSize``/``maxSize`` from ``desiredCapacity``. Both ``nodeGroups`` and
``managedNodeGroups`` are created as **EKS managed node groups** (eksctl's self-managed node groups
are CloudFormation stacks; this plugin makes none), each with a launch template carrying the root
volume's size and type and the tags for instances and volumes, as eksctl does. The nodes' role is
``EKS_NODE_ROLE_ARN``.

The cluster is named ``<metadata.name>-<last 8 characters of the request id>``: EKS names are
unique per account and region, so two requests never collide, and a retry finds the cluster it
started. Node groups keep the names written (they are per cluster); their launch templates are
named ``<cluster>-<node group>``. The kubeconfig's context is ``metadata.name`` as written. A cluster
tagged for another request is never adopted or deleted.

Waiting is bounded by ``AWS_WAIT_SECONDS``; what is not ready by then raises
TransientProviderError, and the job's retry carries on from where it is. Real AWS needs
``EKS_CLUSTER_ROLE_ARN`` (unless the document names ``iam.serviceRoleARN``) and ``EKS_NODE_ROLE_ARN``;
with the emulator, placeholder roles are created in it. The emulator (moto) has no EKS add-on API:
there (and only there), add-ons are skipped with a step saying so.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import yaml
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.exceptions import ValidationError

from providers import aws, register
from providers.base import (
    Found,
    Outcome,
    Plan,
    PlannedResource,
    Provider,
    ProviderError,
    State,
    Step,
    Target,
    TransientProviderError,
    short_id,
)

if TYPE_CHECKING:
    from quotas.estimates import Estimate, Prices

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
EMULATOR_CLUSTER_ROLE = "cloudassist-emulator-eks-cluster"
EMULATOR_NODE_ROLE = "cloudassist-emulator-eks-node"
MAX_ZONES = 3
CONTROL_PLANE_SERVICE = "eks-control-plane"  # quotas' ServicePrice of the control plane
ROOT_DEVICE = "/dev/xvda"  # the root device of the EKS-optimised Amazon Linux AMIs
NODE_GROUP_LISTS = ("managedNodeGroups", "nodeGroups")
RESERVED_TAGS = ("managed-by", "cloudassist-")
SPOT_NOTE = ", spot: priced at on-demand as an upper bound"

_NOT_FOUND = "ResourceNotFoundException"
_IN_USE = "ResourceInUseException"
_TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}
_CLUSTER_STATES = {"DELETING": State.DELETING, "FAILED": State.FAILED}
_NODEGROUP_STATES = {
    "CREATING": State.CREATING,
    "DELETING": State.DELETING,
    "CREATE_FAILED": State.FAILED,
    "DELETE_FAILED": State.FAILED,
}

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_INSTANCE_TYPE = {"type": "string", "pattern": r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"}
_SUBNET_ID = {"type": "string", "pattern": r"^subnet-[0-9a-f]+$"}
_SUBNETS_BY_ZONE = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id"],
        "properties": {"id": _SUBNET_ID},
    },
}
_NODE_GROUP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$"},
        "instanceType": {**_INSTANCE_TYPE, "default": "m5.large"},
        "instanceTypes": {"type": "array", "items": _INSTANCE_TYPE, "minItems": 1, "maxItems": 20},
        "desiredCapacity": {"type": "integer", "minimum": 0, "maximum": 450, "default": 2},
        "minSize": {"type": "integer", "minimum": 0, "maximum": 450},
        "maxSize": {"type": "integer", "minimum": 1, "maximum": 450},
        "volumeSize": {"type": "integer", "minimum": 1, "maximum": 16384, "default": 80},
        "volumeType": {"type": "string", "enum": ["gp3", "gp2"], "default": "gp3"},
        "labels": _STRING_MAP,
        "taints": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "effect"],
                "properties": {
                    "key": {"type": "string", "minLength": 1, "maxLength": 63},
                    "value": {"type": "string", "maxLength": 63},
                    "effect": {"type": "string", "enum": list(_TAINT_EFFECTS)},
                },
            },
        },
        "tags": _STRING_MAP,
        "spot": {"type": "boolean", "default": False},
    },
}

EKS_DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata"],
    "properties": {
        "apiVersion": {"const": "eksctl.io/v1alpha5"},
        "kind": {"const": "ClusterConfig"},
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "region"],
            "properties": {
                # EKS allows 100 characters; 9 go to the request's suffix.
                "name": {"type": "string", "pattern": r"^[a-zA-Z][a-zA-Z0-9-]{0,89}$"},
                "region": {"type": "string", "minLength": 1},
                "version": {"type": "string", "pattern": r"^1\.\d{1,2}$"},
                "tags": _STRING_MAP,
            },
        },
        "nodeGroups": {"type": "array", "items": _NODE_GROUP},
        "managedNodeGroups": {"type": "array", "items": _NODE_GROUP},
        "vpc": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "subnets": {
                    "oneOf": [
                        {"type": "array", "items": _SUBNET_ID, "minItems": 2},
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "minProperties": 1,
                            "properties": {"private": _SUBNETS_BY_ZONE, "public": _SUBNETS_BY_ZONE},
                        },
                    ]
                }
            },
        },
        "iam": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"serviceRoleARN": {"type": "string", "pattern": r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"}},
        },
        "addons": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {"name": {"type": "string", "minLength": 1}, "version": {"type": "string"}},
            },
        },
    },
}


# --- the document ---------------------------------------------------------------------------


def node_groups(spec: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """Every node group of the document with its path (``managedNodeGroups[1]``), managed ones first."""
    for key in NODE_GROUP_LISTS:
        for index, group in enumerate(spec.get(key) or []):
            yield f"{key}[{index}]", group


def _where(path: str, field: str) -> str:
    return f"body.{path}.{field}"


def _instance_types(group: dict[str, Any]) -> list[str]:
    return list(group.get("instanceTypes") or [group["instanceType"]])


def _check(raw: dict[str, Any], document: dict[str, Any]) -> None:
    """What the schema cannot say: a ValidationError naming each bad path."""
    errors: dict[str, list[str]] = {}
    region = document["metadata"]["region"]
    if region not in aws.regions("eks"):
        errors["body.metadata.region"] = [f"'{region}' is not an AWS region where EKS is available."]
    for key in document["metadata"].get("tags") or {}:
        if key.startswith(RESERVED_TAGS):
            errors.setdefault("body.metadata.tags", []).append(f"the tag '{key}' is set by CloudAssist.")
    if not any(document.get(key) for key in NODE_GROUP_LISTS):
        errors["body.managedNodeGroups"] = ["at least one node group (managedNodeGroups or nodeGroups) is required."]
    seen: set[str] = set()
    for path, group in node_groups(document):
        if group["name"] in seen:
            errors[_where(path, "name")] = [f"the node group name '{group['name']}' is used twice."]
        seen.add(group["name"])
        list_key, index = path[:-1].split("[")
        written = raw.get(list_key)[int(index)]
        if "instanceType" in written and "instanceTypes" in written:
            errors[_where(path, "instanceTypes")] = ["give instanceType or instanceTypes, not both."]
        if group["minSize"] > group["desiredCapacity"]:
            errors[_where(path, "minSize")] = [
                f"minSize {group['minSize']} is more than desiredCapacity {group['desiredCapacity']}."
            ]
        if group["maxSize"] < group["desiredCapacity"]:
            errors[_where(path, "maxSize")] = [
                f"maxSize {group['maxSize']} is less than desiredCapacity {group['desiredCapacity']}."
            ]
        for key in group.get("tags") or {}:
            if key.startswith(RESERVED_TAGS):
                errors.setdefault(_where(path, "tags"), []).append(f"the tag '{key}' is set by CloudAssist.")
    if errors:
        raise ValidationError(errors)


def _node_group_summary(kind: str, group: dict[str, Any]) -> str:
    types = "/".join(_instance_types(group))
    spot = " spot" if group["spot"] else ""
    scaling = ""
    if (group["minSize"], group["maxSize"]) != (group["desiredCapacity"],) * 2:
        scaling = f" (scales {group['minSize']}-{group['maxSize']})"
    return (
        f"{kind} {group['name']}: {group['desiredCapacity']} x {types}{spot}{scaling}, "
        f"{group['volumeSize']} GiB {group['volumeType']}"
    )


def requested_name(cluster: str, suffix: str) -> str:
    """``metadata.name`` as written (the cluster's name without the request's suffix)."""
    return cluster.removesuffix(f"-{suffix}")


def _subnets_of(spec: dict[str, Any]) -> list[str] | None:
    subnets = (spec.get("vpc") or {}).get("subnets")
    if subnets is None:
        return None
    if isinstance(subnets, list):
        return list(subnets)
    return [zone["id"] for access in ("private", "public") for zone in (subnets.get(access) or {}).values()]


# --- AWS -------------------------------------------------------------------------------------------


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


def _roles(spec: dict[str, Any]) -> tuple[str, str]:
    """The IAM roles of the control plane (``iam.serviceRoleARN`` or the setting) and of the nodes."""
    cluster_role = (spec.get("iam") or {}).get("serviceRoleARN") or settings.EKS_CLUSTER_ROLE_ARN
    node_role = settings.EKS_NODE_ROLE_ARN
    if cluster_role and node_role:
        return cluster_role, node_role
    if not settings.AWS_EMULATOR:
        raise ProviderError(ROLES_NOT_CONFIGURED)
    iam = aws.client("iam")
    return (
        cluster_role or _placeholder_role(iam, EMULATOR_CLUSTER_ROLE, "eks.amazonaws.com"),
        node_role or _placeholder_role(iam, EMULATOR_NODE_ROLE, "ec2.amazonaws.com"),
    )


def _default_subnets(region: str) -> list[str]:
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
            "set vpc.subnets in the template or EKS_SUBNET_IDS."
        )
    return chosen


def _cluster_when_active(eks, name: str):
    cluster = _describe_cluster(eks, name)
    if cluster is None:
        raise ProviderError(f"EKS cluster {name} disappeared while it was being created.")
    if cluster["status"] == "FAILED":
        raise ProviderError(f"EKS cluster {name} FAILED to create; purge the request and ask again.")
    return cluster if cluster["status"] in ("ACTIVE", "UPDATING") else None


def _nodegroups_when_active(eks, cluster: str, names: list[str]):
    for name in names:
        nodegroup = _describe_nodegroup(eks, cluster, name)
        if nodegroup is None:
            raise ProviderError(f"Node group {name} of EKS cluster {cluster} disappeared while it was being created.")
        if nodegroup["status"] in ("CREATE_FAILED", "DELETE_FAILED"):
            issues = "; ".join(issue.get("message", "") for issue in nodegroup.get("health", {}).get("issues", []))
            raise ProviderError(f"Node group {name} of EKS cluster {cluster} is {nodegroup['status']}: {issues}")
        if nodegroup["status"] not in ("ACTIVE", "UPDATING", "DEGRADED"):
            return None
    return True


def _addons_unsupported(exc: ClientError) -> bool:
    """The emulator (moto) answers the EKS add-on API with a bare 404: it does not implement it."""
    return bool(settings.AWS_EMULATOR) and aws.error_code(exc) == "404"


def _list_addons(eks, cluster: str) -> list[str] | None:
    """The cluster's add-ons; None in the emulator, which has no add-on API."""
    with aws.translate(f"list the add-ons of EKS cluster {cluster}"):
        try:
            pages = eks.get_paginator("list_addons").paginate(clusterName=cluster)
            return [name for page in pages for name in page.get("addons", [])]
        except ClientError as exc:
            if _addons_unsupported(exc):
                return None
            if aws.is_error(exc, _NOT_FOUND):
                return []
            raise


def _launch_template_name(cluster: str, nodegroup: str) -> str:
    return f"{cluster}-{nodegroup}"


def _launch_template(ec2, *, name: str, group: dict[str, Any], tags: dict[str, str]) -> tuple[dict[str, str], bool]:
    """The node group's launch template (root volume size and type, tags on instances and volumes),
    created unless it exists; returns the reference create_nodegroup takes and whether it was made."""
    with aws.translate(f"find the launch template {name}"):
        found = ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [name]}])
    if found["LaunchTemplates"]:
        template = found["LaunchTemplates"][0]
        return {"id": template["LaunchTemplateId"], "version": str(template["DefaultVersionNumber"])}, False
    tag_list = aws.tag_list(tags)
    with aws.translate(f"create the launch template {name}"):
        template = ec2.create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData={
                "BlockDeviceMappings": [
                    {
                        "DeviceName": ROOT_DEVICE,
                        "Ebs": {
                            "VolumeSize": group["volumeSize"],
                            "VolumeType": group["volumeType"],
                            "DeleteOnTermination": True,
                        },
                    }
                ],
                "TagSpecifications": [
                    {"ResourceType": "instance", "Tags": tag_list},
                    {"ResourceType": "volume", "Tags": tag_list},
                ],
            },
            TagSpecifications=[{"ResourceType": "launch-template", "Tags": tag_list}],
        )["LaunchTemplate"]
    return {"id": template["LaunchTemplateId"], "version": str(template["DefaultVersionNumber"])}, True


def _delete_launch_templates(region: str, request_id: str) -> list[Step]:
    """The launch templates of a request's node groups (after the node groups are gone)."""
    ec2 = aws.client("ec2", region)
    with aws.translate(f"list the launch templates of request {request_id}"):
        templates = ec2.describe_launch_templates(Filters=[{"Name": f"tag:{aws.REQUEST_TAG}", "Values": [request_id]}])[
            "LaunchTemplates"
        ]
    steps = []
    for template in templates:
        with aws.translate(f"delete the launch template {template['LaunchTemplateName']}"):
            try:
                ec2.delete_launch_template(LaunchTemplateId=template["LaunchTemplateId"])
            except ClientError as exc:
                if "NotFound" not in aws.error_code(exc):
                    raise
        steps.append(
            Step(
                "delete_launch_template",
                f"launch template {template['LaunchTemplateName']} deleted",
                {"name": template["LaunchTemplateName"]},
            )
        )
    return steps


def _taints(group: dict[str, Any]) -> list[dict[str, str]]:
    return [{**taint, "effect": _TAINT_EFFECTS[taint["effect"]]} for taint in group.get("taints") or []]


def _delete_cluster(eks, region: str, name: str, request_id: str | None) -> list[Step]:
    """Delete the add-ons, node groups and Fargate profiles of cluster ``name``, then the cluster,
    then the launch templates of ``request_id``; waits until all of it is gone."""
    steps: list[Step] = []
    for addon in _list_addons(eks, name) or []:
        with aws.translate(f"delete add-on {addon} of EKS cluster {name}"):
            try:
                eks.delete_addon(clusterName=name, addonName=addon)
            except ClientError as exc:
                if not aws.is_error(exc, _NOT_FOUND, _IN_USE):
                    raise
        steps.append(Step("delete_addon", f"add-on {addon} of EKS cluster {name} deleted", {"name": addon}))
    for operation, key, delete, argument in (
        ("list_nodegroups", "nodegroups", eks.delete_nodegroup, "nodegroupName"),
        ("list_fargate_profiles", "fargateProfileNames", eks.delete_fargate_profile, "fargateProfileName"),
    ):
        for item in _list(eks, operation, key, name):
            with aws.translate(f"delete {item} of EKS cluster {name}"):
                try:
                    delete(clusterName=name, **{argument: item})
                except ClientError as exc:
                    if not aws.is_error(exc, _NOT_FOUND, _IN_USE):  # gone, or already being deleted
                        raise
            steps.append(Step("delete_" + key, f"{item} of EKS cluster {name} deleted", {"name": item}))

    def attachments_gone():
        attached = _list(eks, "list_nodegroups", "nodegroups", name)
        attached += _list(eks, "list_fargate_profiles", "fargateProfileNames", name)
        return True if not attached else None

    aws.wait_for(attachments_gone, what=f"the node groups of EKS cluster {name} are still being deleted")
    with aws.translate(f"delete EKS cluster {name}"):
        try:
            eks.delete_cluster(name=name)
        except ClientError as exc:
            if aws.is_error(exc, _IN_USE):
                raise TransientProviderError(f"EKS cluster {name} is still in use; will retry") from exc
            if not aws.is_error(exc, _NOT_FOUND):
                raise
    steps.append(Step("delete_cluster", f"EKS cluster {name} deleted", {"cluster": name}))
    aws.wait_for(
        lambda: True if _describe_cluster(eks, name) is None else None,
        what=f"EKS cluster {name} is still being deleted",
    )
    if request_id:
        steps += _delete_launch_templates(region, request_id)
    return steps


@register("aws-eks")
class EksProvider(Provider):
    label = "AWS EKS"
    document_schema = EKS_DOCUMENT_SCHEMA

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Real AWS needs the IAM roles (the emulator gets placeholders)."""
        if settings.AWS_EMULATOR or (settings.EKS_CLUSTER_ROLE_ARN and settings.EKS_NODE_ROLE_ARN):
            return None
        return ROLES_NOT_CONFIGURED

    # --- planning -------------------------------------------------------------------------------

    def check(self, manifests: list[dict[str, Any]]) -> dict[str, Any]:
        """The document with the schema's defaults, ``minSize``/``maxSize`` filled in from
        ``desiredCapacity`` and ``instanceType`` dropped where ``instanceTypes`` is given."""
        document = super().check(manifests)
        for _, group in node_groups(document):
            group.setdefault("minSize", group["desiredCapacity"])
            group.setdefault("maxSize", group["desiredCapacity"])
        _check(manifests[0], document)
        for _, group in node_groups(document):
            if group.get("instanceTypes"):
                group.pop("instanceType", None)
        return document

    def plan(self, manifests: list[dict[str, Any]], *, request_id: str | None = None) -> Plan:
        spec = copy.deepcopy(self.check(manifests))
        metadata = spec["metadata"]
        cluster = f"{metadata['name']}-{short_id(request_id)}"
        metadata["name"] = cluster
        region = metadata["region"]
        version = metadata.get("version")
        resources = [
            PlannedResource(
                kind="EKS cluster",
                name=cluster,
                summary=f"EKS cluster {cluster}, "
                + (f"Kubernetes {version}" if version else "Kubernetes: EKS default")
                + f", {region}",
                attributes={"region": region, "version": version, "where": "body.metadata"},
            )
        ]
        for path, group in node_groups(spec):
            kind = "managed node group" if path.startswith("managedNodeGroups") else "node group"
            resources.append(
                PlannedResource(
                    kind=kind,
                    name=group["name"],
                    summary=_node_group_summary(kind, group),
                    attributes={
                        "cluster": cluster,
                        "instance_types": _instance_types(group),
                        "desired_capacity": group["desiredCapacity"],
                        "min_size": group["minSize"],
                        "max_size": group["maxSize"],
                        "volume_size": group["volumeSize"],
                        "volume_type": group["volumeType"],
                        "spot": group["spot"],
                        "where": f"body.{path}",
                    },
                )
            )
        for index, addon in enumerate(spec.get("addons") or []):
            version_text = f" {addon['version']}" if addon.get("version") else ""
            resources.append(
                PlannedResource(
                    kind="addon",
                    name=addon["name"],
                    summary=f"addon {addon['name']}{version_text}",
                    attributes={"cluster": cluster, "version": addon.get("version"), "where": f"body.addons[{index}]"},
                )
            )
        return Plan(provider=self.name, resources=resources, spec=spec)

    def estimate(self, plan: Plan, hours: Decimal, prices: Prices) -> Estimate:
        from quotas import estimates

        spec = plan.spec
        region = spec["metadata"]["region"]
        estimate = estimates.Estimate(hours=hours)
        estimate.line_items.append(
            estimates.service(
                prices,
                CONTROL_PLANE_SERVICE,
                region,
                hours,
                description=f"EKS control plane {spec['metadata']['name']} ({region})",
                unit="clusters",
                where="body.metadata.region",
            )
        )
        for path, group in node_groups(spec):
            count = group["desiredCapacity"]
            field = "instanceTypes[0]" if group.get("instanceTypes") else "instanceType"
            estimate.line_items.append(
                estimates.instances(
                    prices,
                    count=count,
                    instance_type=_instance_types(group)[0],
                    region=region,
                    hours=hours,
                    where=_where(path, field),
                    note=f", node group {group['name']}" + (SPOT_NOTE if group["spot"] else ""),
                )
            )
            estimate.line_items.append(
                estimates.volumes(
                    prices,
                    count=count,
                    size_gb=group["volumeSize"],
                    disk_type=group["volumeType"],
                    region=region,
                    hours=hours,
                    where=_where(path, "volumeType"),
                )
            )
            if group.get("instanceTypes", [None])[1:]:
                estimate.notes.append(
                    f"Node group {group['name']} is priced as {group['instanceTypes'][0]}, "
                    "the first of its instanceTypes."
                )
            if group["maxSize"] > count:
                estimate.notes.append(
                    f"Node group {group['name']} is priced at its desiredCapacity ({count}); it may scale to "
                    f"{group['maxSize']}."
                )
        if any(group["spot"] for _, group in node_groups(spec)):
            estimate.notes.append("Spot capacity is priced at the on-demand price, an upper bound.")
        return estimate

    # --- operations -----------------------------------------------------------------------------

    def create(self, target: Target) -> Outcome:
        spec = target.spec
        name, region = spec["metadata"]["name"], spec["metadata"]["region"]
        version = spec["metadata"].get("version")
        cluster_tags = {**(spec["metadata"].get("tags") or {}), **target.tags}
        eks = aws.client("eks", region)
        steps: list[Step] = []
        cluster = _describe_cluster(eks, name)
        if cluster is None:
            cluster_role, _ = _roles(spec)
            subnets = _subnets_of(spec) or _default_subnets(region)
            arguments: dict[str, Any] = {
                "name": name,
                "roleArn": cluster_role,
                "resourcesVpcConfig": {
                    "subnetIds": subnets,
                    "endpointPublicAccess": True,
                    "endpointPrivateAccess": True,
                },
                "tags": cluster_tags,
            }
            if version:
                arguments["version"] = version
            with aws.translate(f"create EKS cluster {name}"):
                try:
                    eks.create_cluster(**arguments)
                except ClientError as exc:
                    if not aws.is_error(exc, _IN_USE):  # created meanwhile: carry on with it
                        raise
            steps.append(
                Step(
                    "create_cluster",
                    f"EKS cluster {name} requested in {region}, Kubernetes {version or 'EKS default'}",
                    {"cluster": name, "region": region, "subnets": subnets, "version": version},
                )
            )
        else:
            aws.check_owner(cluster.get("tags") or {}, target, what=f"EKS cluster {name}")
            if cluster["status"] == "DELETING":
                raise TransientProviderError(f"EKS cluster {name} is being deleted; will create it once gone")
        cluster = aws.wait_for(lambda: _cluster_when_active(eks, name), what=f"EKS cluster {name} is not ACTIVE")

        ec2 = aws.client("ec2", region)
        planned = [group for _, group in node_groups(spec)]
        for group in planned:
            steps += self._create_nodegroup(eks, ec2, target, cluster, group)
        aws.wait_for(
            lambda: _nodegroups_when_active(eks, name, [group["name"] for group in planned]),
            what=f"the node groups of EKS cluster {name} are not ACTIVE",
        )
        steps += self._create_addons(eks, name, spec.get("addons") or [])
        return self._ready(target, cluster, steps)

    def _create_nodegroup(self, eks, ec2, target: Target, cluster: dict[str, Any], group: dict[str, Any]) -> list[Step]:
        name, nodegroup = cluster["name"], group["name"]
        existing = _describe_nodegroup(eks, name, nodegroup)
        if existing is not None:
            if existing["status"] == "DELETING":
                raise TransientProviderError(f"Node group {nodegroup} is being deleted; will create it once gone")
            return []
        spec = target.spec
        tags = {**(spec["metadata"].get("tags") or {}), **(group.get("tags") or {}), **target.tags}
        template_name = _launch_template_name(name, nodegroup)
        launch_template, _ = _launch_template(ec2, name=template_name, group=group, tags=tags)
        _, node_role = _roles(spec)
        arguments: dict[str, Any] = {
            "clusterName": name,
            "nodegroupName": nodegroup,
            "scalingConfig": {
                "minSize": group["minSize"],
                "maxSize": group["maxSize"],
                "desiredSize": group["desiredCapacity"],
            },
            "instanceTypes": _instance_types(group),
            "subnets": cluster["resourcesVpcConfig"]["subnetIds"],
            "nodeRole": node_role,
            "launchTemplate": launch_template,
            "capacityType": "SPOT" if group["spot"] else "ON_DEMAND",
            "labels": dict(group.get("labels") or {}),
            "taints": _taints(group),
            "tags": tags,
        }
        if spec["metadata"].get("version"):
            arguments["version"] = spec["metadata"]["version"]
        with aws.translate(f"create node group {nodegroup} of EKS cluster {name}"):
            try:
                eks.create_nodegroup(**arguments)
            except ClientError as exc:
                if not aws.is_error(exc, _IN_USE):
                    raise
        return [
            Step(
                "create_nodegroup",
                "node group " + _node_group_summary("", group).strip() + " requested",
                {"cluster": name, "nodegroup": nodegroup, "launch_template": template_name},
            )
        ]

    def _create_addons(self, eks, cluster: str, addons: list[dict[str, Any]]) -> list[Step]:
        if not addons:
            return []
        existing = _list_addons(eks, cluster)
        if existing is None:
            names = ", ".join(addon["name"] for addon in addons)
            return [
                Step(
                    "skip_addons",
                    f"add-ons {names} of EKS cluster {cluster} skipped: the AWS emulator has no add-on API",
                    {"cluster": cluster, "addons": [addon["name"] for addon in addons]},
                )
            ]
        steps = []
        for addon in addons:
            if addon["name"] in existing:
                continue
            arguments = {"clusterName": cluster, "addonName": addon["name"]}
            if addon.get("version") and addon["version"] != "latest":
                arguments["addonVersion"] = addon["version"]
            with aws.translate(f"create add-on {addon['name']} of EKS cluster {cluster}"):
                try:
                    eks.create_addon(**arguments)
                except ClientError as exc:
                    if not aws.is_error(exc, _IN_USE):
                        raise
            steps.append(Step("create_addon", f"add-on {addon['name']} of EKS cluster {cluster} requested", arguments))
        return steps

    def status(self, target: Target) -> Outcome:
        spec = target.spec
        name, region = spec["metadata"]["name"], spec["metadata"]["region"]
        eks = aws.client("eks", region)
        cluster = _describe_cluster(eks, name)
        if cluster is None:
            return Outcome(State.ABSENT)
        aws.check_owner(cluster.get("tags") or {}, target, what=f"EKS cluster {name}")
        outputs: dict[str, Any] = {"cluster_name": name, "region": region, "cluster_status": cluster["status"]}
        if cluster["status"] not in ("ACTIVE", "UPDATING"):
            return Outcome(_CLUSTER_STATES.get(cluster["status"], State.CREATING), outputs=outputs)
        statuses = {}
        for _, group in node_groups(spec):
            nodegroup = _describe_nodegroup(eks, name, group["name"])
            statuses[group["name"]] = nodegroup["status"] if nodegroup else "ABSENT"
        outputs["nodegroup_status"] = statuses
        states = [_NODEGROUP_STATES.get(status, State.READY) for status in statuses.values()]
        for state in (State.FAILED, State.DELETING):
            if state in states:
                return Outcome(state, outputs=outputs)
        if "ABSENT" in statuses.values() or State.CREATING in states:
            return Outcome(State.CREATING, outputs=outputs)
        return self._ready(target, cluster, [])

    def delete(self, target: Target) -> Outcome:
        spec = target.spec
        name, region = spec["metadata"]["name"], spec["metadata"]["region"]
        eks = aws.client("eks", region)
        cluster = _describe_cluster(eks, name)
        if cluster is None:
            steps = _delete_launch_templates(region, target.request_id)
            return Outcome(State.ABSENT, steps=[Step("delete", f"EKS cluster {name} is already gone"), *steps])
        aws.check_owner(cluster.get("tags") or {}, target, what=f"EKS cluster {name}")
        return Outcome(State.ABSENT, steps=_delete_cluster(eks, region, name, target.request_id))

    def _ready(self, target: Target, cluster: dict[str, Any], steps: list[Step]) -> Outcome:
        spec = target.spec
        region = spec["metadata"]["region"]
        return Outcome(
            State.READY,
            outputs={
                "cluster_name": cluster["name"],
                "cluster_arn": cluster["arn"],
                "endpoint": cluster["endpoint"],
                "region": region,
                "kubernetes_version": cluster.get("version"),
                "nodegroups": [
                    {
                        "name": group["name"],
                        "instance_types": _instance_types(group),
                        "desired_capacity": group["desiredCapacity"],
                        "capacity_type": "SPOT" if group["spot"] else "ON_DEMAND",
                    }
                    for _, group in node_groups(spec)
                ],
            },
            secret=build_kubeconfig(cluster, region=region, context=requested_name(cluster["name"], target.short_id)),
            secret_kind="kubeconfig",
            steps=steps,
        )

    # --- reconciliation -------------------------------------------------------------------------

    def inventory(self, regions: Iterable[str] | None = None) -> list[Found]:
        """The EKS clusters tagged ``managed-by: cloudassist`` in ``regions`` (``aws.inventory_regions`` by default)."""
        return inventory(regions)

    def missing(self, target: Target) -> list[str]:
        spec = target.spec
        name, region = spec["metadata"]["name"], spec["metadata"]["region"]
        eks = aws.client("eks", region)
        if _describe_cluster(eks, name) is None:
            return [f"EKS cluster {name}"]
        present = set(_list(eks, "list_nodegroups", "nodegroups", name))
        kinds = {"managedNodeGroups": "managed node group", "nodeGroups": "node group"}
        return [
            f"{kinds[path.split('[')[0]]} {group['name']} of EKS cluster {name}"
            for path, group in node_groups(spec)
            if group["name"] not in present
        ]

    def remove(self, found: Found) -> list[Step]:
        eks = aws.client("eks", found.region)
        cluster = _describe_cluster(eks, found.name)
        if cluster is None:
            return [Step("delete", f"EKS cluster {found.name} is already gone")]
        tags = cluster.get("tags") or {}
        if tags.get("managed-by") != "cloudassist":
            raise ProviderError(f"EKS cluster {found.name} is not tagged managed-by: cloudassist; not deleting it.")
        if found.request_id is not None and tags.get(aws.REQUEST_TAG) != found.request_id:
            raise ProviderError(f"EKS cluster {found.name} now belongs to another request; not deleting it.")
        return _delete_cluster(eks, found.region, found.name, tags.get(aws.REQUEST_TAG))


def inventory(regions: Iterable[str] | None = None) -> list[Found]:
    """The EKS clusters tagged ``managed-by: cloudassist`` in ``regions`` (default: ``aws.inventory_regions``),
    each with its estimated hourly cost (control plane and node groups) when prices are known."""
    found = []
    for region in regions or aws.inventory_regions("eks"):
        eks = aws.client("eks", region)
        with aws.translate(f"list the EKS clusters in {region}"):
            names = [name for page in eks.get_paginator("list_clusters").paginate() for name in page["clusters"]]
        for name in names:
            cluster = _describe_cluster(eks, name)
            if cluster is None or (cluster.get("tags") or {}).get("managed-by") != "cloudassist":
                continue
            nodegroups = [
                nodegroup
                for nodegroup_name in _list(eks, "list_nodegroups", "nodegroups", name)
                if (nodegroup := _describe_nodegroup(eks, name, nodegroup_name)) is not None
            ]
            created_at = cluster.get("createdAt")
            found.append(
                Found(
                    kind="EKS cluster",
                    name=name,
                    request_id=cluster["tags"].get(aws.REQUEST_TAG),
                    region=region,
                    created_at=created_at if isinstance(created_at, datetime) else None,
                    usd_per_hour=_hourly_cost(region, nodegroups),
                    detail={
                        "status": cluster["status"],
                        "nodegroups": [nodegroup["nodegroupName"] for nodegroup in nodegroups],
                    },
                )
            )
    return found


def _hourly_cost(region: str, nodegroups: list[dict[str, Any]]) -> Decimal | None:
    """The control plane and the node groups' instances (desired size x first instance type) for
    one hour, or None when a price is missing."""
    from quotas.estimates import Prices

    prices = Prices()
    try:
        total = prices.service(CONTROL_PLANE_SERVICE, region, where="region").usd_per_hour
        for nodegroup in nodegroups:
            if not nodegroup.get("instanceTypes"):
                return None  # set by a launch template: not known here
            instance_type = nodegroup["instanceTypes"][0]
            count = (nodegroup.get("scalingConfig") or {}).get("desiredSize", 0)
            total += count * prices.instance(instance_type, region, where="instanceType").usd_per_hour
    except ValidationError:
        return None
    return total
