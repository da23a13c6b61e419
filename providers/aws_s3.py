"""The ``aws-s3`` provider: a private S3 bucket and credentials that reach only that bucket.

``create`` makes the bucket ``<bucket>-<last 8 characters of the request id>`` (or
``cloudassist-<request id>`` without a ``bucket`` parameter) in ``region``, blocks public
access, turns versioning on when asked, and tags it. The credentials are an IAM user
``cloudassist-s3-<request id>`` with an inline policy scoped to the bucket and one access key,
returned as an AWS credentials-file profile. ``delete`` removes the key, the policy and the
user, then empties the bucket (every version) and deletes it.

AWS shows a secret access key only when it is created. So ``create`` always hands out a fresh
key and deletes older ones (a retry after a crash still ends with exactly one valid key, the
one returned), and ``status`` reports the bucket and the key id, without the secret.
A bucket tagged for another request is never adopted or deleted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from providers import aws, register
from providers.base import Outcome, Provider, ProviderError, State, Step, Target, TransientProviderError

USER_PATH = "/cloudassist/"
POLICY_NAME = "cloudassist-bucket-access"

# Lower-case letters, digits and hyphens (no dots: virtual-hosted TLS works for every name);
# 54 characters leave room for the 9-character suffix within S3's 63.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,52}[a-z0-9]")
_NO_BUCKET = ("404", "NoSuchBucket", "NotFound")


@dataclass(frozen=True)
class Spec:
    bucket: str
    region: str
    versioning: bool
    user: str


def spec_for(target: Target) -> Spec:
    requested = aws.parameter(target, "bucket", str, "")
    if requested:
        requested = aws.matching(
            target, "bucket", _BUCKET, what="a bucket name (3-54 lower-case letters, digits and hyphens)"
        )
        bucket = f"{requested}-{target.short_id}"
    else:
        bucket = f"cloudassist-{target.request_id}".lower()[:63]
    return Spec(
        bucket=bucket,
        region=aws.region(target, "s3"),
        versioning=aws.parameter(target, "versioning", bool, False),
        user=f"cloudassist-s3-{target.request_id}"[:64],
    )


def bucket_policy(bucket: str) -> dict[str, Any]:
    """What the request's IAM user may do: everything on the objects of its bucket, nothing else."""
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Bucket",
                "Effect": "Allow",
                "Action": [
                    "s3:ListBucket",
                    "s3:ListBucketVersions",
                    "s3:ListBucketMultipartUploads",
                    "s3:GetBucketLocation",
                    "s3:GetBucketVersioning",
                ],
                "Resource": arn,
            },
            {
                "Sid": "Objects",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": f"{arn}/*",
            },
        ],
    }


def credentials_text(spec: Spec, target: Target, access_key: dict[str, str]) -> str:
    profile = f"cloudassist-{target.short_id}"
    endpoint = aws.endpoint_url()
    lines = [
        f"# CloudAssist: credentials for S3 bucket {spec.bucket} in {spec.region} (request {target.request_id}).",
        f"# Add the profile to ~/.aws/credentials, then: aws s3 ls s3://{spec.bucket} --profile {profile}"
        + (f" --endpoint-url {endpoint}" if endpoint else ""),
        f"[{profile}]",
        f"aws_access_key_id = {access_key['AccessKeyId']}",
        f"aws_secret_access_key = {access_key['SecretAccessKey']}",
        f"region = {spec.region}",
    ]
    return "\n".join(lines) + "\n"


def _bucket_tags(s3, bucket: str) -> dict[str, str] | None:
    """The bucket's tags ({} when untagged), or None when there is no such bucket."""
    with aws.translate(f"read the tags of S3 bucket {bucket}"):
        try:
            return aws.tag_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
        except ClientError as exc:
            if aws.is_error(exc, "NoSuchTagSet"):
                return {}
            if aws.is_error(exc, *_NO_BUCKET):
                return None
            if aws.is_error(exc, "AccessDenied", "403"):
                raise ProviderError(f"S3 bucket {bucket} exists and belongs to another AWS account.") from exc
            raise


def _user_exists(iam, user: str) -> bool:
    with aws.translate(f"read IAM user {user}"):
        try:
            iam.get_user(UserName=user)
        except ClientError as exc:
            if aws.is_error(exc, "NoSuchEntity"):
                return False
            raise
    return True


def _access_keys(iam, user: str) -> list[str]:
    with aws.translate(f"list the access keys of IAM user {user}"):
        try:
            pages = iam.get_paginator("list_access_keys").paginate(UserName=user)
            return [key["AccessKeyId"] for page in pages for key in page["AccessKeyMetadata"]]
        except ClientError as exc:
            if aws.is_error(exc, "NoSuchEntity"):
                return []
            raise


def _ignoring(action: str, call, *codes: str, **kwargs) -> bool:
    """Make one call; False (instead of an error) when it fails with one of ``codes``."""
    with aws.translate(action):
        try:
            call(**kwargs)
        except ClientError as exc:
            if aws.is_error(exc, *codes):
                return False
            raise
    return True


@register("aws-s3")
class S3Provider(Provider):
    label = "AWS S3"

    def create(self, target: Target) -> Outcome:
        spec = spec_for(target)
        s3 = aws.client("s3", spec.region)
        iam = aws.client("iam")
        steps: list[Step] = []

        tags = _bucket_tags(s3, spec.bucket)
        if tags is None:
            configuration = {} if spec.region == "us-east-1" else {"LocationConstraint": spec.region}
            with aws.translate(f"create S3 bucket {spec.bucket}"):
                try:
                    s3.create_bucket(
                        Bucket=spec.bucket,
                        **({"CreateBucketConfiguration": configuration} if configuration else {}),
                    )
                except ClientError as exc:
                    if aws.is_error(exc, "BucketAlreadyExists"):
                        raise ProviderError(
                            f"The S3 bucket name {spec.bucket} is taken (bucket names are global); "
                            "ask again with another name."
                        ) from exc
                    if not aws.is_error(exc, "BucketAlreadyOwnedByYou"):
                        raise
            steps.append(Step("create_bucket", f"S3 bucket {spec.bucket} created in {spec.region}"))
        else:
            aws.check_owner(tags, target, what=f"S3 bucket {spec.bucket}")
        with aws.translate(f"configure S3 bucket {spec.bucket}"):
            s3.put_bucket_tagging(Bucket=spec.bucket, Tagging={"TagSet": aws.tag_list(target.tags)})
            s3.put_public_access_block(
                Bucket=spec.bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            if spec.versioning:
                s3.put_bucket_versioning(Bucket=spec.bucket, VersioningConfiguration={"Status": "Enabled"})

        if not _user_exists(iam, spec.user):
            _ignoring(
                f"create IAM user {spec.user}",
                iam.create_user,
                "EntityAlreadyExists",
                UserName=spec.user,
                Path=USER_PATH,
                Tags=aws.tag_list(target.tags),
            )
            steps.append(Step("create_user", f"IAM user {spec.user} created for S3 bucket {spec.bucket}"))
        with aws.translate(f"give IAM user {spec.user} access to S3 bucket {spec.bucket}"):
            iam.put_user_policy(
                UserName=spec.user, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(bucket_policy(spec.bucket))
            )
        # Only the key created now can be handed out: older ones (from an interrupted run) go.
        for key_id in _access_keys(iam, spec.user):
            _ignoring(
                f"delete access key {key_id}",
                iam.delete_access_key,
                "NoSuchEntity",
                UserName=spec.user,
                AccessKeyId=key_id,
            )
            steps.append(Step("delete_access_key", f"older access key {key_id} of {spec.user} deleted"))
        with aws.translate(f"create an access key for IAM user {spec.user}"):
            access_key = iam.create_access_key(UserName=spec.user)["AccessKey"]
        steps.append(Step("create_access_key", f"access key {access_key['AccessKeyId']} created for {spec.user}"))
        return Outcome(
            State.READY,
            outputs=self._outputs(spec, access_key["AccessKeyId"]),
            secret=credentials_text(spec, target, access_key),
            secret_kind="credentials",
            steps=steps,
        )

    def status(self, target: Target) -> Outcome:
        spec = spec_for(target)
        s3 = aws.client("s3", spec.region)
        iam = aws.client("iam")
        tags = _bucket_tags(s3, spec.bucket)
        if tags is not None:
            aws.check_owner(tags, target, what=f"S3 bucket {spec.bucket}")
        user = _user_exists(iam, spec.user)
        if tags is None and not user:
            return Outcome(State.ABSENT)
        keys = _access_keys(iam, spec.user) if user else []
        outputs = self._outputs(spec, keys[0] if keys else None)
        if tags is None or not keys:
            return Outcome(State.CREATING, outputs=outputs)  # half-way (in either direction)
        return Outcome(State.READY, outputs=outputs)  # the secret access key cannot be read back

    def delete(self, target: Target) -> Outcome:
        spec = spec_for(target)
        s3 = aws.client("s3", spec.region)
        iam = aws.client("iam")
        steps: list[Step] = []
        tags = _bucket_tags(s3, spec.bucket)
        if tags is not None:
            aws.check_owner(tags, target, what=f"S3 bucket {spec.bucket}")

        if _user_exists(iam, spec.user):
            for key_id in _access_keys(iam, spec.user):
                _ignoring(
                    f"delete access key {key_id}",
                    iam.delete_access_key,
                    "NoSuchEntity",
                    UserName=spec.user,
                    AccessKeyId=key_id,
                )
            with aws.translate(f"list the policies of IAM user {spec.user}"):
                inline = [
                    n
                    for p in iam.get_paginator("list_user_policies").paginate(UserName=spec.user)
                    for n in p["PolicyNames"]
                ]
                attached = [
                    a["PolicyArn"]
                    for p in iam.get_paginator("list_attached_user_policies").paginate(UserName=spec.user)
                    for a in p["AttachedPolicies"]
                ]
            for name in inline:
                _ignoring(
                    f"delete policy {name}", iam.delete_user_policy, "NoSuchEntity", UserName=spec.user, PolicyName=name
                )
            for arn in attached:
                _ignoring(
                    f"detach policy {arn}", iam.detach_user_policy, "NoSuchEntity", UserName=spec.user, PolicyArn=arn
                )
            _ignoring(f"delete IAM user {spec.user}", iam.delete_user, "NoSuchEntity", UserName=spec.user)
            steps.append(Step("delete_user", f"IAM user {spec.user}, its access keys and policies deleted"))

        if tags is not None:
            removed = self._empty(s3, spec.bucket)
            _ignoring(f"delete S3 bucket {spec.bucket}", s3.delete_bucket, *_NO_BUCKET, Bucket=spec.bucket)
            steps.append(
                Step(
                    "delete_bucket",
                    f"S3 bucket {spec.bucket} emptied ({removed} objects) and deleted",
                    {"objects": removed},
                )
            )
        if not steps:
            steps.append(Step("delete", f"S3 bucket {spec.bucket} and IAM user {spec.user} are already gone"))
        return Outcome(State.ABSENT, steps=steps)

    def _empty(self, s3, bucket: str) -> int:
        """Delete every object version, delete marker and unfinished upload; the number deleted."""
        removed = 0
        with aws.translate(f"empty S3 bucket {bucket}"):
            try:
                for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
                    for upload in page.get("Uploads", []):
                        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                    objects = [
                        {"Key": item["Key"], "VersionId": item["VersionId"]}
                        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                    ]
                    if objects:  # a page holds at most 1,000 entries, delete_objects' limit
                        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
                        if answer.get("Errors"):
                            error = answer["Errors"][0]
                            raise TransientProviderError(
                                f"Cannot empty S3 bucket {bucket}: {error.get('Code')}: {error.get('Message')}"
                            )
                        removed += len(objects)
            except ClientError as exc:
                if aws.is_error(exc, *_NO_BUCKET):
                    return removed
                raise
        return removed

    def _outputs(self, spec: Spec, access_key_id: str | None) -> dict[str, Any]:
        outputs: dict[str, Any] = {
            "bucket": spec.bucket,
            "bucket_arn": f"arn:aws:s3:::{spec.bucket}",
            "region": spec.region,
            "versioning": spec.versioning,
            "iam_user": spec.user,
            "access_key_id": access_key_id,
        }
        if aws.endpoint_url():
            outputs["endpoint_url"] = aws.endpoint_url()
        return outputs
