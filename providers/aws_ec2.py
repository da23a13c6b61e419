"""The ``aws-ec2`` plugin: an ``EC2Instances`` document, applied as written.

The document (one YAML document; anything not listed here is refused when the template is saved,
naming the field, e.g. ``body.spec.userData: not supported by aws-ec2``)::

    apiVersion: cloudassist.io/v1alpha1
    kind: EC2Instances
    metadata:
      region: eu-west-1            # required; a region where EC2 exists
      tags: {team: a}              # optional, on the instances and their volumes
    spec:
      instanceType: t3.small       # default t3.micro
      count: 2                     # 1..20, default 1
      imageId: ami-0123...         # an AMI id, or resolve:ssm:<parameter>; default
                                   # resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
      rootVolume: {size: 50, type: gp3}   # GiB (default 8); gp2|gp3|io1|io2|st1|sc1|standard (default gp3)
      keyPair: generated           # the only choice (the default): the request's own SSH key pair
      securityGroup:               # optional: without ingress rules the VPC's default group is used
        ingress:
          - {protocol: tcp, fromPort: 22, toPort: 22, cidr: 10.0.0.0/8, description: ssh}
      tags: {app: web}             # optional, on the instances and their volumes

Defaults live in ``document_schema`` only. ``plan`` names what a request creates: the instances
(Name tag ``cloudassist-<short id>``), the security group ``cloudassist-<request id>`` when
ingress rules are given, and the SSH key pair ``cloudassist-<request id>``; ``estimate`` prices
``count`` instances of the type and ``count`` root volumes of the size and type.

``create`` registers the key pair, creates the security group in the region's default VPC
(tagged, its ingress made exactly the planned rules), launches the instances that are missing
(the image resolved from SSM when asked, the root volume's size and type through the block
device mapping), tags instances and volumes with ``metadata.tags``, ``spec.tags``, the Name and
the request's tags (ours win), and waits until they run. Instances are found by their
``cloudassist-request`` tag, so a retry launches only what is missing (with an idempotency
token, in case a launch is not visible yet). ``delete`` terminates them, waits until they are
gone, then deletes the security group and the key pair.

The SSH key is an Ed25519 key derived from the request id with an HMAC keyed by the secrets
key (``SECRETS_KEYS``), so every ``create`` and ``status`` can hand out the private key again
(EC2 shows a key it generates only once), and nothing but the encrypted copy is ever stored.
A key pair registered under an older key is recognised through the older keys in
``SECRETS_KEYS``.

Reconciliation: ``inventory`` lists, in the regions of ``AWS_INVENTORY_REGIONS`` (default:
``AWS_REGION`` and the regions with instance prices), the instances that are not terminated, the security groups and
the key pairs tagged ``managed-by: cloudassist``; ``missing`` says which planned resources of a
deployed request are gone (fewer instances running than planned, the security group, the key
pair); ``remove`` deletes one orphan, only when it carries the ``managed-by`` tag.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import struct
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.crypto import salted_hmac

from providers import aws, register
from providers.base import (
    REQUEST_SUFFIX_PLACEHOLDER,
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

API_VERSION = "cloudassist.io/v1alpha1"
KIND = "EC2Instances"
SSM_PREFIX = "resolve:ssm:"
DEFAULT_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
DEFAULT_IMAGE = SSM_PREFIX + DEFAULT_AMI_PARAMETER
DEFAULT_SSH_USER = "ec2-user"  # Amazon Linux
KEY_SALT = "cloudassist.providers.aws_ec2.ssh-key"
LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]
VOLUME_TYPES = ["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"]
PROTOCOLS = ["tcp", "udp", "icmp", "-1"]
MANAGED_TAG = "managed-by"
MANAGED_VALUE = "cloudassist"
MAX_USER_TAGS = 45  # EC2 allows 50 tags per resource; ours (Name and the request's) take the rest

_TAGS: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"minLength": 1, "maxLength": 128, "not": {"pattern": "^aws:"}},
    "additionalProperties": {"type": "string", "maxLength": 256},
}
_PORT: dict[str, Any] = {"type": "integer", "minimum": -1, "maximum": 65535}

#: What an ``EC2Instances`` document may say (the defaults are here and nowhere else).
DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata"],
    "properties": {
        "apiVersion": {"const": API_VERSION},
        "kind": {"const": KIND},
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "required": ["region"],
            "properties": {"region": {"type": "string"}, "tags": _TAGS},
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "properties": {
                "instanceType": {
                    "type": "string",
                    "pattern": r"^[a-z][a-z0-9-]*\.[a-z0-9]+$",
                    "default": "t3.micro",
                    "errorMessage": "an EC2 instance type, like t3.micro",
                },
                "count": {"type": "integer", "minimum": 1, "maximum": 20, "default": 1},
                "imageId": {
                    "type": "string",
                    "pattern": r"^(ami-[0-9a-f]{8,17}|resolve:ssm:[A-Za-z0-9_.\-/]{1,2048})$",
                    "default": DEFAULT_IMAGE,
                    "errorMessage": "an AMI id (ami-...) or resolve:ssm:<SSM parameter name>",
                },
                "rootVolume": {
                    "type": "object",
                    "additionalProperties": False,
                    "default": {},
                    "properties": {
                        "size": {"type": "integer", "minimum": 1, "maximum": 16384, "default": 8},
                        "type": {"enum": VOLUME_TYPES, "default": "gp3"},
                    },
                },
                "keyPair": {"const": "generated", "default": "generated"},
                "securityGroup": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "ingress": {
                            "type": "array",
                            "maxItems": 50,
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["protocol", "cidr"],
                                "properties": {
                                    "protocol": {
                                        "enum": PROTOCOLS,
                                        "errorMessage": 'one of tcp, udp, icmp or "-1" (all traffic, quoted)',
                                    },
                                    "fromPort": _PORT,
                                    "toPort": _PORT,
                                    "cidr": {"type": "string"},
                                    "description": {
                                        "type": "string",
                                        "maxLength": 255,
                                        "pattern": r"^[A-Za-z0-9 ._:/()#,@\[\]+=&;{}!$*-]*$",
                                        "errorMessage": "at most 255 letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*",
                                    },
                                },
                            },
                        }
                    },
                },
                "tags": _TAGS,
            },
        },
    },
}


# --- the document ------------------------------------------------------------------------------


def _errors_of(document: dict[str, Any]) -> dict[str, list[str]]:
    """What the schema cannot say: the region exists for EC2, each rule's ports and CIDR make sense."""
    errors: dict[str, list[str]] = {}
    region = document["metadata"]["region"]
    if region not in aws.regions("ec2"):
        errors["body.metadata.region"] = [f"'{region}' is not an AWS region where EC2 is available."]
    spec = document["spec"]
    for index, rule in enumerate((spec.get("securityGroup") or {}).get("ingress") or []):
        where = f"body.spec.securityGroup.ingress[{index}]"
        try:
            network = ipaddress.ip_network(rule["cidr"], strict=True)
            if network.version != 4 or "/" not in rule["cidr"]:
                raise ValueError(rule["cidr"])
        except ValueError:
            errors[f"{where}.cidr"] = [f"'{rule['cidr']}' is not an IPv4 CIDR block (like 10.0.0.0/8)."]
        protocol = rule["protocol"]
        if protocol == "-1":
            continue  # all traffic: ports do not apply
        low, high = (0, 65535) if protocol in ("tcp", "udp") else (-1, 255)
        for port in ("fromPort", "toPort"):
            if port not in rule:
                errors[f"{where}.{port}"] = [f"required for {protocol} rules"]
            elif not low <= rule[port] <= high:
                errors[f"{where}.{port}"] = [f"must be between {low} and {high} for {protocol}, not {rule[port]}."]
        if protocol != "icmp" and "fromPort" in rule and "toPort" in rule and rule["fromPort"] > rule["toPort"]:
            errors.setdefault(f"{where}.fromPort", []).append(
                f"must not be above toPort ({rule['fromPort']} > {rule['toPort']})."
            )
    tags = {**(document["metadata"].get("tags") or {}), **(spec.get("tags") or {})}
    if len(tags) > MAX_USER_TAGS:
        errors["body.spec.tags"] = [f"at most {MAX_USER_TAGS} tags (metadata.tags and spec.tags together)."]
    return errors


def names_for(request_id: str | None, *, security_group: bool) -> dict[str, Any]:
    """What a request's resources are called: the instances' Name tag carries the short id, the
    security group and the key pair the whole request id (as key pairs always have)."""
    whole = request_id or REQUEST_SUFFIX_PLACEHOLDER
    return {
        "instances": f"cloudassist-{short_id(request_id)}",
        "securityGroup": f"cloudassist-{whole}" if security_group else None,
        "keyPair": f"cloudassist-{whole}"[:255],
    }


def _image_text(image_id: str) -> str:
    if image_id == DEFAULT_IMAGE:
        return "Amazon Linux 2023 (latest)"
    if image_id.startswith(SSM_PREFIX):
        return f"the AMI in SSM parameter {image_id[len(SSM_PREFIX) :]}"
    return f"AMI {image_id}"


def _rule_text(rule: dict[str, Any]) -> str:
    protocol = rule["protocol"]
    if protocol == "-1":
        what = "all traffic"
    elif protocol == "icmp":
        what = "icmp" if rule["fromPort"] == -1 else f"icmp type {rule['fromPort']}"
    elif rule["fromPort"] == rule["toPort"]:
        what = f"{protocol} {rule['fromPort']}"
    else:
        what = f"{protocol} {rule['fromPort']}-{rule['toPort']}"
    text = f"{what} from {rule['cidr']}"
    return f"{text} ({rule['description']})" if rule.get("description") else text


def _ingress(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list((document["spec"].get("securityGroup") or {}).get("ingress") or [])


def _tags(document: dict[str, Any]) -> dict[str, str]:
    return {**(document["metadata"].get("tags") or {}), **(document["spec"].get("tags") or {})}


@dataclass(frozen=True)
class Spec:
    """A stored plan's ``spec``, as ``create`` applies it."""

    region: str
    instance_type: str
    count: int
    image_id: str
    volume_size: int
    volume_type: str
    ingress: list[dict[str, Any]]
    tags: dict[str, str]
    name: str
    group_name: str | None
    key_name: str


def spec_for(target: Target) -> Spec:
    try:
        document, names = target.spec["document"], target.spec["names"]
    except (KeyError, TypeError):
        raise ProviderError("The request's plan is not an aws-ec2 plan; plan the request again.") from None
    spec = document["spec"]
    return Spec(
        region=document["metadata"]["region"],
        instance_type=spec["instanceType"],
        count=spec["count"],
        image_id=spec["imageId"],
        volume_size=spec["rootVolume"]["size"],
        volume_type=spec["rootVolume"]["type"],
        ingress=_ingress(document),
        tags=_tags(document),
        name=names["instances"],
        group_name=names["securityGroup"],
        key_name=names["keyPair"],
    )


# --- the request's SSH key ---------------------------------------------------------------------


def _secrets() -> list:
    return list(getattr(settings, "SECRETS_KEYS", None) or []) or [settings.SECRET_KEY]


def ssh_key(request_id: str, secret=None) -> Ed25519PrivateKey:
    """The request's SSH key: the same for the same request id and secret, unguessable without it."""
    seed = salted_hmac(KEY_SALT, request_id, secret=secret or _secrets()[0], algorithm="sha256").digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_openssh(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def private_openssh(key: Ed25519PrivateKey, comment: str = "") -> str:
    """The key in OpenSSH's private key format (what ``ssh -i`` reads), byte for byte the same
    every time: ``cryptography`` writes a random check number, so this writes the format itself
    (PROTOCOL.key in OpenSSH's sources), with the check number derived from the key."""
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    public_blob = _string(b"ssh-ed25519") + _string(public)
    check = hashlib.sha256(b"openssh-checkint" + seed).digest()[:4]
    private_block = check + check + public_blob + _string(seed + public) + _string(comment.encode())
    private_block += bytes(range(1, 1 + (-len(private_block) % 8)))  # padding 1, 2, 3, ... to the block size
    blob = (
        b"openssh-key-v1\0"
        + _string(b"none")
        + _string(b"none")
        + _string(b"")
        + struct.pack(">I", 1)
        + _string(public_blob)
        + _string(private_block)
    )
    text = base64.b64encode(blob).decode()
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return "\n".join(["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, "-----END OPENSSH PRIVATE KEY-----"]) + "\n"


def _same_public_key(a: str, b: str) -> bool:
    return a.split()[:2] == b.split()[:2]  # AWS may append a comment


def _matching_key(request_id: str, registered: str) -> Ed25519PrivateKey | None:
    for secret in _secrets():
        key = ssh_key(request_id, secret)
        if _same_public_key(public_openssh(key), registered):
            return key
    return None


# --- EC2 lookups -------------------------------------------------------------------------------


def _sorted(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(instances, key=lambda i: (str(i.get("LaunchTime", "")), i.get("AmiLaunchIndex", 0), i["InstanceId"]))


def _described(ec2, what: str, **kwargs) -> list[dict[str, Any]]:
    with aws.translate(what):
        pages = ec2.get_paginator("describe_instances").paginate(**kwargs)
        return _sorted([i for page in pages for reservation in page["Reservations"] for i in reservation["Instances"]])


def _instances(ec2, target: Target) -> list[dict[str, Any]]:
    """The request's instances that are not terminated, found by the request's tag."""
    filters = [
        {"Name": f"tag:{aws.REQUEST_TAG}", "Values": [target.request_id]},
        {"Name": "instance-state-name", "Values": LIVE_STATES},
    ]
    return _described(ec2, "describe the request's EC2 instances", Filters=filters)


def _by_id(ec2, ids: list[str]) -> list[dict[str, Any]] | None:
    """These instances in any state; None while EC2 does not know them all yet (eventual consistency)."""
    try:
        return _described(ec2, f"describe EC2 instances {', '.join(ids)}", InstanceIds=ids)
    except ProviderError as exc:
        cause = exc.__cause__
        if isinstance(cause, ClientError) and aws.is_error(cause, "InvalidInstanceID.NotFound"):
            return None
        raise


def _key_pair(ec2, name: str) -> dict[str, Any] | None:
    with aws.translate(f"describe EC2 key pair {name}"):
        try:
            pairs = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"]
        except ClientError as exc:
            if aws.is_error(exc, "InvalidKeyPair.NotFound"):
                return None
            raise
    return pairs[0] if pairs else None


def _import_key_pair(ec2, spec: Spec, target: Target, key: Ed25519PrivateKey) -> None:
    with aws.translate(f"import EC2 key pair {spec.key_name}"):
        try:
            ec2.import_key_pair(
                KeyName=spec.key_name,
                PublicKeyMaterial=public_openssh(key).encode(),
                TagSpecifications=[{"ResourceType": "key-pair", "Tags": aws.tag_list(target.tags)}],
            )
        except ClientError as exc:
            if not aws.is_error(exc, "InvalidKeyPair.Duplicate"):
                raise


def _group(ec2, name: str) -> dict[str, Any] | None:
    with aws.translate(f"describe EC2 security group {name}"):
        groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    return groups[0] if groups else None


def _default_vpc(ec2, region: str) -> str:
    with aws.translate(f"find the default VPC in {region}"):
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise ProviderError(f"There is no default VPC in {region} for the security group.")
    return vpcs[0]["VpcId"]


def _rule_key(protocol: str, from_port: int | None, to_port: int | None, cidr: str) -> tuple:
    if protocol == "-1":
        from_port = to_port = None
    return (protocol, from_port, to_port, str(ipaddress.ip_network(cidr, strict=False)))


def _wanted(ingress: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """The planned rules as EC2 IpPermissions, one per distinct (protocol, ports, CIDR)."""
    wanted: dict[tuple, dict[str, Any]] = {}
    for rule in ingress:
        key = _rule_key(rule["protocol"], rule.get("fromPort"), rule.get("toPort"), rule["cidr"])
        if key in wanted:
            continue
        ip_range = {"CidrIp": key[3], **({"Description": rule["description"]} if rule.get("description") else {})}
        permission: dict[str, Any] = {"IpProtocol": key[0], "IpRanges": [ip_range]}
        if key[1] is not None:
            permission.update(FromPort=key[1], ToPort=key[2])
        wanted[key] = permission
    return wanted


def _existing(group: dict[str, Any]) -> dict[tuple, dict[str, Any]]:
    """The group's IPv4 ingress rules, one IpPermission per CIDR (what revoking one takes)."""
    existing: dict[tuple, dict[str, Any]] = {}
    for permission in group.get("IpPermissions") or []:
        for ip_range in permission.get("IpRanges") or []:
            protocol = permission["IpProtocol"]
            key = _rule_key(protocol, permission.get("FromPort"), permission.get("ToPort"), ip_range["CidrIp"])
            single: dict[str, Any] = {"IpProtocol": protocol, "IpRanges": [{"CidrIp": ip_range["CidrIp"]}]}
            if protocol != "-1":
                single.update(FromPort=permission.get("FromPort"), ToPort=permission.get("ToPort"))
            existing[key] = single
    return existing


def _image(ec2, spec: Spec) -> dict[str, Any]:
    ami = spec.image_id
    if ami.startswith(SSM_PREFIX):
        parameter = ami[len(SSM_PREFIX) :]
        ssm = aws.client("ssm", spec.region)
        with aws.translate(f"look up the AMI in SSM parameter {parameter} in {spec.region}"):
            try:
                ami = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
            except ClientError as exc:
                if not aws.is_error(exc, "ParameterNotFound"):
                    raise
                raise ProviderError(
                    f"body.spec.imageId: there is no SSM parameter {parameter} in {spec.region}."
                ) from exc
    with aws.translate(f"describe AMI {ami}"):
        try:
            images = ec2.describe_images(ImageIds=[ami])["Images"]
        except ClientError as exc:
            if not aws.is_error(exc, "InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidAMIID.Unavailable"):
                raise
            images = []
    if not images:
        raise ProviderError(f"body.spec.imageId: there is no AMI {ami} in {spec.region}.")
    return images[0]


def inventory_regions() -> list[str]:
    return aws.inventory_regions("ec2")


def _hourly(prices, instance_type: str | None, region: str) -> Decimal | None:
    """What one instance of ``instance_type`` costs an hour, or None when no price is known."""
    try:
        return prices.instance(instance_type or "", region, where="instanceType").usd_per_hour
    except ValidationError:
        return None


def _managed(tags: dict[str, str]) -> bool:
    return tags.get(MANAGED_TAG) == MANAGED_VALUE


@register("aws-ec2")
class Ec2Provider(Provider):
    label = "AWS EC2"
    document_schema = DOCUMENT_SCHEMA

    # --- planning -------------------------------------------------------------------------------

    def check(self, manifests: list[dict[str, Any]]) -> Any:
        document = super().check(manifests)
        errors = _errors_of(document)
        if errors:
            raise ValidationError(errors)
        return document

    def plan(self, manifests: list[dict[str, Any]], *, request_id: str | None = None) -> Plan:
        document = self.check(manifests)
        spec, region = document["spec"], document["metadata"]["region"]
        ingress = _ingress(document)
        names = names_for(request_id, security_group=bool(ingress))
        count, instance_type, volume = spec["count"], spec["instanceType"], spec["rootVolume"]
        noun = "EC2 instance" if count == 1 else "EC2 instances"
        resources = [
            PlannedResource(
                kind="EC2 instances",
                name=names["instances"],
                summary=(
                    f"{count} x {instance_type} {noun} in {region}, {_image_text(spec['imageId'])}, "
                    f"{volume['size']} GiB {volume['type']} root volume"
                ),
                attributes={
                    "region": region,
                    "count": count,
                    "instanceType": instance_type,
                    "imageId": spec["imageId"],
                    "rootVolume": dict(volume),
                    "tags": _tags(document),
                },
            )
        ]
        if names["securityGroup"]:
            resources.append(
                PlannedResource(
                    kind="security group",
                    name=names["securityGroup"],
                    summary=f"security group {names['securityGroup']}: {'; '.join(_rule_text(r) for r in ingress)}",
                    attributes={"region": region, "ingress": ingress},
                )
            )
        resources.append(
            PlannedResource(
                kind="SSH key pair",
                name=names["keyPair"],
                summary=f"SSH key pair {names['keyPair']}",
                attributes={"region": region},
            )
        )
        return Plan(provider=self.name, resources=resources, spec={"document": document, "names": names})

    def estimate(self, plan: Plan, hours: Decimal, prices: Prices) -> Estimate:
        from quotas.estimates import Estimate, instances, volumes

        document = plan.spec["document"]
        spec, region = document["spec"], document["metadata"]["region"]
        count = spec["count"]
        return Estimate(
            hours=hours,
            line_items=[
                instances(
                    prices,
                    count=count,
                    instance_type=spec["instanceType"],
                    region=region,
                    hours=hours,
                    where="body.spec.instanceType",
                ),
                volumes(
                    prices,
                    count=count,
                    size_gb=spec["rootVolume"]["size"],
                    disk_type=spec["rootVolume"]["type"],
                    region=region,
                    hours=hours,
                    where="body.spec.rootVolume.type",
                ),
            ],
        )

    # --- operations -----------------------------------------------------------------------------

    def create(self, target: Target) -> Outcome:
        spec = spec_for(target)
        ec2 = aws.client("ec2", spec.region)
        steps: list[Step] = []
        instances = _instances(ec2, target)
        key = self._ensure_key_pair(ec2, spec, target, instances, steps)
        group_id = self._ensure_group(ec2, spec, target, steps)

        ids = [instance["InstanceId"] for instance in instances]
        missing = spec.count - len(instances)
        if missing > 0:
            image = _image(ec2, spec)
            tags = aws.tag_list({**spec.tags, "Name": spec.name, **target.tags})
            with aws.translate(f"launch {missing} x {spec.instance_type} in {spec.region}"):
                launched = ec2.run_instances(
                    ImageId=image["ImageId"],
                    InstanceType=spec.instance_type,
                    MinCount=missing,
                    MaxCount=missing,
                    KeyName=spec.key_name,
                    **({"SecurityGroupIds": [group_id]} if group_id else {}),
                    BlockDeviceMappings=[
                        {
                            "DeviceName": image["RootDeviceName"],
                            "Ebs": {
                                "VolumeSize": spec.volume_size,
                                "VolumeType": spec.volume_type,
                                "DeleteOnTermination": True,
                            },
                        }
                    ],
                    TagSpecifications=[
                        {"ResourceType": "instance", "Tags": tags},
                        {"ResourceType": "volume", "Tags": tags},
                    ],
                    # The same token for the same state: a launch that describe_instances does not
                    # show yet is not repeated.
                    ClientToken=f"cloudassist-{target.request_id}-{len(instances)}",
                )["Instances"]
            ids += [instance["InstanceId"] for instance in launched]
            steps.append(
                Step(
                    "run_instances",
                    f"{missing} x {spec.instance_type} launched from {image['ImageId']} in {spec.region}",
                    {"instances": [instance["InstanceId"] for instance in launched], "ami": image["ImageId"]},
                )
            )
        stopped = [instance["InstanceId"] for instance in instances if instance["State"]["Name"] == "stopped"]
        if stopped:
            with aws.translate(f"start EC2 instances {', '.join(stopped)}"):
                ec2.start_instances(InstanceIds=stopped)
            steps.append(Step("start_instances", f"stopped instances started: {', '.join(stopped)}"))

        def all_running():
            current = _by_id(ec2, ids)
            if current is None:
                return None  # just launched, not visible yet
            gone = [i["InstanceId"] for i in current if i["State"]["Name"] in ("shutting-down", "terminated")]
            if gone:
                raise ProviderError(f"EC2 instances {', '.join(gone)} were terminated while being created.")
            running = [instance for instance in current if instance["State"]["Name"] == "running"]
            return running if len(running) == len(ids) else None

        running = aws.wait_for(all_running, what=f"the EC2 instances {', '.join(ids)} are not all running")
        return self._ready(spec, running, key, group_id, steps)

    def _ensure_key_pair(
        self, ec2, spec: Spec, target: Target, instances: list[dict[str, Any]], steps: list[Step]
    ) -> Ed25519PrivateKey | None:
        key: Ed25519PrivateKey | None = ssh_key(target.request_id)
        registered = _key_pair(ec2, spec.key_name)
        if registered is None:
            _import_key_pair(ec2, spec, target, key)
            steps.append(Step("import_key_pair", f"SSH key pair {spec.key_name} registered", {"key": spec.key_name}))
            return key
        aws.check_owner(aws.tag_dict(registered.get("Tags")), target, what=f"EC2 key pair {spec.key_name}")
        key = _matching_key(target.request_id, registered.get("PublicKey", ""))
        if key is None and not instances:
            # Registered under a key we no longer hold, and nothing uses it yet: replace it.
            with aws.translate(f"delete EC2 key pair {spec.key_name}"):
                ec2.delete_key_pair(KeyName=spec.key_name)
            key = ssh_key(target.request_id)
            _import_key_pair(ec2, spec, target, key)
            steps.append(Step("import_key_pair", f"SSH key pair {spec.key_name} replaced", {"key": spec.key_name}))
        elif key is None:
            steps.append(
                Step("key_pair", f"the private key of {spec.key_name} cannot be derived any more (secrets key changed)")
            )
        return key

    def _ensure_group(self, ec2, spec: Spec, target: Target, steps: list[Step]) -> str | None:
        """The request's security group with exactly the planned ingress rules (None: none planned)."""
        if not spec.group_name:
            return None
        group = _group(ec2, spec.group_name)
        if group is None:
            vpc = _default_vpc(ec2, spec.region)
            with aws.translate(f"create EC2 security group {spec.group_name}"):
                try:
                    ec2.create_security_group(
                        GroupName=spec.group_name,
                        Description=f"CloudAssist request {target.request_id}",
                        VpcId=vpc,
                        TagSpecifications=[
                            {"ResourceType": "security-group", "Tags": aws.tag_list({**spec.tags, **target.tags})}
                        ],
                    )
                except ClientError as exc:
                    if not aws.is_error(exc, "InvalidGroup.Duplicate"):
                        raise
            group = _group(ec2, spec.group_name)
            if group is None:
                raise TransientProviderError(f"EC2 security group {spec.group_name} is not visible yet; will retry")
            steps.append(
                Step(
                    "create_security_group",
                    f"security group {spec.group_name} ({group['GroupId']}) created in {vpc}",
                    {"group": group["GroupId"]},
                )
            )
        else:
            aws.check_owner(aws.tag_dict(group.get("Tags")), target, what=f"EC2 security group {spec.group_name}")
        group_id = group["GroupId"]
        wanted, existing = _wanted(spec.ingress), _existing(group)
        extra = [permission for key, permission in existing.items() if key not in wanted]
        if extra:
            with aws.translate(f"revoke ingress rules of {spec.group_name}"):
                ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=extra)
            steps.append(Step("revoke_security_group_ingress", f"{len(extra)} unplanned rule(s) revoked"))
        to_add = [permission for key, permission in wanted.items() if key not in existing]
        if to_add:
            with aws.translate(f"authorize ingress rules of {spec.group_name}"):
                try:
                    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=to_add)
                except ClientError as exc:
                    if not aws.is_error(exc, "InvalidPermission.Duplicate"):
                        raise
            steps.append(
                Step(
                    "authorize_security_group_ingress",
                    f"security group {spec.group_name}: {'; '.join(_rule_text(r) for r in spec.ingress)}",
                    {"group": group_id},
                )
            )
        return group_id

    def status(self, target: Target) -> Outcome:
        spec = spec_for(target)
        ec2 = aws.client("ec2", spec.region)
        instances = _instances(ec2, target)
        registered = _key_pair(ec2, spec.key_name)
        group = _group(ec2, spec.group_name) if spec.group_name else None
        group_id = group["GroupId"] if group else None
        if not instances:
            return Outcome(State.ABSENT if registered is None and group is None else State.CREATING)
        states = {instance["State"]["Name"] for instance in instances}
        if "shutting-down" in states:
            return Outcome(State.DELETING, outputs=self._outputs(spec, instances, group_id))
        if "pending" in states or len(instances) < spec.count or (spec.group_name and group is None):
            return Outcome(State.CREATING, outputs=self._outputs(spec, instances, group_id))
        key = _matching_key(target.request_id, registered.get("PublicKey", "")) if registered else None
        return self._ready(spec, instances, key, group_id, [])

    def delete(self, target: Target) -> Outcome:
        spec = spec_for(target)
        ec2 = aws.client("ec2", spec.region)
        steps: list[Step] = []
        instances = _instances(ec2, target)
        to_terminate = [i["InstanceId"] for i in instances if i["State"]["Name"] != "shutting-down"]
        if to_terminate:
            with aws.translate(f"terminate EC2 instances {', '.join(to_terminate)}"):
                ec2.terminate_instances(InstanceIds=to_terminate)
            steps.append(
                Step("terminate_instances", f"terminated {', '.join(to_terminate)}", {"instances": to_terminate})
            )
        if instances:
            aws.wait_for(
                lambda: True if not _instances(ec2, target) else None,
                what="the request's EC2 instances are still shutting down",
            )
        group = _group(ec2, spec.group_name) if spec.group_name else None
        if group is not None:
            aws.check_owner(aws.tag_dict(group.get("Tags")), target, what=f"EC2 security group {spec.group_name}")
            if _delete_group(ec2, group["GroupId"], spec.group_name):
                steps.append(Step("delete_security_group", f"security group {spec.group_name} deleted"))
        registered = _key_pair(ec2, spec.key_name)
        if registered is not None:
            aws.check_owner(aws.tag_dict(registered.get("Tags")), target, what=f"EC2 key pair {spec.key_name}")
            with aws.translate(f"delete EC2 key pair {spec.key_name}"):
                ec2.delete_key_pair(KeyName=spec.key_name)
            steps.append(Step("delete_key_pair", f"SSH key pair {spec.key_name} deleted"))
        if not steps:
            steps.append(Step("delete", "the request's EC2 instances, security group and key pair are already gone"))
        return Outcome(State.ABSENT, steps=steps)

    def _outputs(self, spec: Spec, instances: list[dict[str, Any]], group_id: str | None) -> dict[str, Any]:
        return {
            "region": spec.region,
            "instance_type": spec.instance_type,
            "instance_ids": [i["InstanceId"] for i in instances],
            "private_ips": [i.get("PrivateIpAddress") for i in instances],
            "public_ips": [i.get("PublicIpAddress") for i in instances],
            "states": [i["State"]["Name"] for i in instances],
            "ami": instances[0].get("ImageId") if instances else None,
            "key_name": spec.key_name,
            "security_group_id": group_id,
            "ssh_user": DEFAULT_SSH_USER if spec.image_id == DEFAULT_IMAGE else None,
        }

    def _ready(
        self,
        spec: Spec,
        instances: list[dict[str, Any]],
        key: Ed25519PrivateKey | None,
        group_id: str | None,
        steps: list[Step],
    ) -> Outcome:
        return Outcome(
            State.READY,
            outputs=self._outputs(spec, instances, group_id),
            secret=private_openssh(key, spec.key_name) if key is not None else None,
            secret_kind="credentials" if key is not None else None,
            steps=steps,
        )

    # --- reconciliation -------------------------------------------------------------------------

    def inventory(self) -> list[Found]:
        from quotas.estimates import Prices

        prices = Prices()  # each instance priced at its type's on-demand rate, each price read once
        found: list[Found] = []
        managed = [{"Name": f"tag:{MANAGED_TAG}", "Values": [MANAGED_VALUE]}]
        for region in inventory_regions():
            ec2 = aws.client("ec2", region)
            live = [state for state in LIVE_STATES if state != "shutting-down"]
            filters = [*managed, {"Name": "instance-state-name", "Values": live}]
            for instance in _described(ec2, f"list the EC2 instances in {region}", Filters=filters):
                tags = aws.tag_dict(instance.get("Tags"))
                if _managed(tags):
                    found.append(
                        Found(
                            kind="EC2 instance",
                            name=instance["InstanceId"],
                            request_id=tags.get(aws.REQUEST_TAG),
                            region=region,
                            created_at=_aware(instance.get("LaunchTime")),
                            usd_per_hour=_hourly(prices, instance.get("InstanceType"), region),
                            detail={
                                "instance_type": instance.get("InstanceType"),
                                "state": instance["State"]["Name"],
                                "name": tags.get("Name", ""),
                            },
                        )
                    )
            with aws.translate(f"list the EC2 security groups in {region}"):
                groups = ec2.describe_security_groups(Filters=managed)["SecurityGroups"]
            for group in groups:
                tags = aws.tag_dict(group.get("Tags"))
                if _managed(tags):
                    found.append(
                        Found(
                            kind="EC2 security group",
                            name=group["GroupId"],
                            request_id=tags.get(aws.REQUEST_TAG),
                            region=region,
                            detail={"group_name": group["GroupName"], "vpc": group.get("VpcId")},
                        )
                    )
            with aws.translate(f"list the EC2 key pairs in {region}"):
                pairs = ec2.describe_key_pairs()["KeyPairs"]  # few; filtered here (tag filters vary)
            for pair in pairs:
                tags = aws.tag_dict(pair.get("Tags"))
                if _managed(tags):
                    found.append(
                        Found(
                            kind="EC2 key pair",
                            name=pair["KeyName"],
                            request_id=tags.get(aws.REQUEST_TAG),
                            region=region,
                            created_at=_aware(pair.get("CreateTime")),
                        )
                    )
        return found

    def missing(self, target: Target) -> list[str]:
        spec = spec_for(target)
        ec2 = aws.client("ec2", spec.region)
        gone: list[str] = []
        running = [i for i in _instances(ec2, target) if i["State"]["Name"] in ("pending", "running")]
        if len(running) < spec.count:
            gone.append(f"EC2 instances {spec.name}: {len(running)} of {spec.count} running")
        if spec.group_name and _group(ec2, spec.group_name) is None:
            gone.append(f"security group {spec.group_name}")
        if _key_pair(ec2, spec.key_name) is None:
            gone.append(f"SSH key pair {spec.key_name}")
        return gone

    def remove(self, found: Found) -> list[Step]:
        ec2 = aws.client("ec2", found.region or None)
        if found.kind == "EC2 instance":
            return _remove_instance(ec2, found)
        if found.kind == "EC2 security group":
            return _remove_group(ec2, found)
        if found.kind == "EC2 key pair":
            return _remove_key_pair(ec2, found)
        raise ProviderError(f"aws-ec2 does not remove a {found.kind}.")


# --- removing ----------------------------------------------------------------------------------


def _aware(moment: Any) -> datetime | None:
    return moment if isinstance(moment, datetime) else None


def _still_ours(tags: dict[str, str], found: Found) -> None:
    """Refuse to remove what is not tagged managed-by cloudassist, or is now another request's."""
    if not _managed(tags):
        raise ProviderError(f"{found.kind} {found.name} is not tagged {MANAGED_TAG}: {MANAGED_VALUE}; not removed.")
    if tags.get(aws.REQUEST_TAG) != found.request_id:
        raise ProviderError(
            f"{found.kind} {found.name} now belongs to request {tags.get(aws.REQUEST_TAG)}, "
            f"not {found.request_id}; not removed."
        )


def _remove_instance(ec2, found: Found) -> list[Step]:
    current = _by_id(ec2, [found.name])
    if not current or current[0]["State"]["Name"] in ("shutting-down", "terminated"):
        return [Step("terminate_instance", f"EC2 instance {found.name} is already gone")]
    _still_ours(aws.tag_dict(current[0].get("Tags")), found)
    with aws.translate(f"terminate EC2 instance {found.name}"):
        ec2.terminate_instances(InstanceIds=[found.name])
    return [Step("terminate_instance", f"EC2 instance {found.name} terminated", {"instance": found.name})]


def _delete_group(ec2, group_id: str, name: str) -> bool:
    """Delete a security group; False when it was already gone. Instances still shutting down
    keep it in use: a transient error (retried)."""
    with aws.translate(f"delete EC2 security group {name}"):
        try:
            ec2.delete_security_group(GroupId=group_id)
        except ClientError as exc:
            if aws.is_error(exc, "InvalidGroup.NotFound"):
                return False
            if aws.is_error(exc, "DependencyViolation"):
                raise TransientProviderError(f"EC2 security group {name} is still in use; will retry") from exc
            raise
    return True


def _remove_group(ec2, found: Found) -> list[Step]:
    with aws.translate(f"describe EC2 security group {found.name}"):
        try:
            groups = ec2.describe_security_groups(GroupIds=[found.name])["SecurityGroups"]
        except ClientError as exc:
            if not aws.is_error(exc, "InvalidGroup.NotFound"):
                raise
            groups = []
    if not groups:
        return [Step("delete_security_group", f"EC2 security group {found.name} is already gone")]
    _still_ours(aws.tag_dict(groups[0].get("Tags")), found)
    if not _delete_group(ec2, found.name, groups[0]["GroupName"]):
        return [Step("delete_security_group", f"EC2 security group {found.name} is already gone")]
    return [Step("delete_security_group", f"EC2 security group {groups[0]['GroupName']} ({found.name}) deleted")]


def _remove_key_pair(ec2, found: Found) -> list[Step]:
    pair = _key_pair(ec2, found.name)
    if pair is None:
        return [Step("delete_key_pair", f"EC2 key pair {found.name} is already gone")]
    _still_ours(aws.tag_dict(pair.get("Tags")), found)
    with aws.translate(f"delete EC2 key pair {found.name}"):
        ec2.delete_key_pair(KeyName=found.name)
    return [Step("delete_key_pair", f"EC2 key pair {found.name} deleted")]
