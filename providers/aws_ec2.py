"""The ``aws-ec2`` provider: ``count`` EC2 instances and an SSH key pair, for one request.

``create`` registers the request's SSH key pair ``cloudassist-<request id>``, launches the
instances that are missing (``instance_type``, ``count``, a root volume of ``volume_size`` GiB
and ``volume_type``, the ``ami`` parameter or the latest Amazon Linux 2023 from AWS's public
SSM parameter), tags instances and volumes with the request's tags, and waits until they run.
Instances are found by their ``cloudassist-request`` tag, so a retry launches only what is
missing (with an idempotency token, in case a launch is not visible yet). ``delete``
terminates them, waits until they are gone and deletes the key pair. They use the default VPC.

The SSH key is an Ed25519 key derived from the request id with an HMAC keyed by the secrets
key (``SECRETS_KEYS``), so every ``create`` and ``status`` can hand out the private key again
(EC2 shows a key it generates only once), and nothing but the encrypted copy is ever stored.
A key pair registered under an older key is recognised through the older keys in
``SECRETS_KEYS``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from django.conf import settings
from django.utils.crypto import salted_hmac

from providers import aws, register
from providers.base import Outcome, Provider, ProviderError, State, Step, Target

DEFAULT_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
DEFAULT_SSH_USER = "ec2-user"  # Amazon Linux
KEY_SALT = "cloudassist.providers.aws_ec2.ssh-key"
LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]

_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
_VOLUME_TYPE = re.compile(r"gp2|gp3|io1|io2|st1|sc1|standard")
_AMI = re.compile(r"ami-[0-9a-f]{8,17}")


@dataclass(frozen=True)
class Spec:
    region: str
    instance_type: str
    count: int
    volume_size: int
    volume_type: str
    ami: str | None
    key_name: str


def spec_for(target: Target) -> Spec:
    return Spec(
        region=aws.region(target, "ec2"),
        instance_type=aws.matching(target, "instance_type", _INSTANCE_TYPE, "t3.micro", what="an EC2 instance type"),
        count=aws.integer(target, "count", 1, minimum=1, maximum=20),
        volume_size=aws.integer(target, "volume_size", 8, minimum=1, maximum=16384),
        volume_type=aws.matching(target, "volume_type", _VOLUME_TYPE, "gp3", what="an EBS volume type"),
        ami=aws.matching(target, "ami", _AMI, None, what="an AMI id (ami-...)")
        if target.parameters.get("ami")
        else None,
        key_name=f"cloudassist-{target.request_id}"[:255],
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


def _instances(ec2, target: Target) -> list[dict[str, Any]]:
    """The request's instances that are not terminated, found by the request's tag."""
    filters = [
        {"Name": f"tag:{aws.REQUEST_TAG}", "Values": [target.request_id]},
        {"Name": "instance-state-name", "Values": LIVE_STATES},
    ]
    with aws.translate("describe the request's EC2 instances"):
        pages = ec2.get_paginator("describe_instances").paginate(Filters=filters)
        return _sorted([i for page in pages for reservation in page["Reservations"] for i in reservation["Instances"]])


def _by_id(ec2, ids: list[str]) -> list[dict[str, Any]] | None:
    """These instances in any state; None while EC2 does not know them all yet (eventual consistency)."""
    with aws.translate(f"describe EC2 instances {', '.join(ids)}"):
        try:
            pages = ec2.get_paginator("describe_instances").paginate(InstanceIds=ids)
            return _sorted(
                [i for page in pages for reservation in page["Reservations"] for i in reservation["Instances"]]
            )
        except ClientError as exc:
            if aws.is_error(exc, "InvalidInstanceID.NotFound"):
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


def _image(ec2, spec: Spec) -> dict[str, Any]:
    ami = spec.ami
    if not ami:
        ssm = aws.client("ssm", spec.region)
        with aws.translate(f"look up the latest Amazon Linux 2023 AMI in {spec.region}"):
            ami = ssm.get_parameter(Name=DEFAULT_AMI_PARAMETER)["Parameter"]["Value"]
    with aws.translate(f"describe AMI {ami}"):
        try:
            images = ec2.describe_images(ImageIds=[ami])["Images"]
        except ClientError as exc:
            if not aws.is_error(exc, "InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidAMIID.Unavailable"):
                raise
            images = []
    if not images:
        raise ProviderError(f"parameters.ami: there is no AMI {ami} in {spec.region}.")
    return images[0]


@register("aws-ec2")
class Ec2Provider(Provider):
    label = "AWS EC2"

    def create(self, target: Target) -> Outcome:
        spec = spec_for(target)
        ec2 = aws.client("ec2", spec.region)
        steps: list[Step] = []
        instances = _instances(ec2, target)

        key: Ed25519PrivateKey | None = ssh_key(target.request_id)
        registered = _key_pair(ec2, spec.key_name)
        if registered is None:
            _import_key_pair(ec2, spec, target, key)
            steps.append(Step("import_key_pair", f"SSH key pair {spec.key_name} registered", {"key": spec.key_name}))
        else:
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
                    Step(
                        "key_pair",
                        f"the private key of {spec.key_name} cannot be derived any more (secrets key changed)",
                    )
                )

        ids = [instance["InstanceId"] for instance in instances]
        missing = spec.count - len(instances)
        if missing > 0:
            image = _image(ec2, spec)
            tags = aws.tag_list({"Name": f"cloudassist-{target.short_id}", **target.tags})
            with aws.translate(f"launch {missing} x {spec.instance_type} in {spec.region}"):
                launched = ec2.run_instances(
                    ImageId=image["ImageId"],
                    InstanceType=spec.instance_type,
                    MinCount=missing,
                    MaxCount=missing,
                    KeyName=spec.key_name,
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
        return self._ready(spec, running, key, steps)

    def status(self, target: Target) -> Outcome:
        spec = spec_for(target)
        ec2 = aws.client("ec2", spec.region)
        instances = _instances(ec2, target)
        registered = _key_pair(ec2, spec.key_name)
        if not instances:
            return Outcome(State.ABSENT if registered is None else State.CREATING)
        states = {instance["State"]["Name"] for instance in instances}
        if "shutting-down" in states:
            return Outcome(State.DELETING, outputs=self._outputs(spec, instances))
        if "pending" in states or len(instances) < spec.count:
            return Outcome(State.CREATING, outputs=self._outputs(spec, instances))
        key = _matching_key(target.request_id, registered.get("PublicKey", "")) if registered else None
        return self._ready(spec, instances, key, [])

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
        registered = _key_pair(ec2, spec.key_name)
        if registered is not None:
            aws.check_owner(aws.tag_dict(registered.get("Tags")), target, what=f"EC2 key pair {spec.key_name}")
            with aws.translate(f"delete EC2 key pair {spec.key_name}"):
                ec2.delete_key_pair(KeyName=spec.key_name)
            steps.append(Step("delete_key_pair", f"SSH key pair {spec.key_name} deleted"))
        if not steps:
            steps.append(Step("delete", "the request's EC2 instances and key pair are already gone"))
        return Outcome(State.ABSENT, steps=steps)

    def _outputs(self, spec: Spec, instances: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "region": spec.region,
            "instance_type": spec.instance_type,
            "instance_ids": [i["InstanceId"] for i in instances],
            "private_ips": [i.get("PrivateIpAddress") for i in instances],
            "public_ips": [i.get("PublicIpAddress") for i in instances],
            "states": [i["State"]["Name"] for i in instances],
            "ami": instances[0].get("ImageId") if instances else spec.ami,
            "key_name": spec.key_name,
            "ssh_user": DEFAULT_SSH_USER if not spec.ami else None,
        }

    def _ready(
        self, spec: Spec, instances: list[dict[str, Any]], key: Ed25519PrivateKey | None, steps: list[Step]
    ) -> Outcome:
        return Outcome(
            State.READY,
            outputs=self._outputs(spec, instances),
            secret=private_openssh(key, spec.key_name) if key is not None else None,
            secret_kind="credentials" if key is not None else None,
            steps=steps,
        )
