"""The ``aws-s3`` plugin: one S3 bucket, configured as its template's document says, and
credentials (an IAM user's access key) that reach only that bucket.

The document (``document_schema``; anything else is refused by name when the template is saved)::

    apiVersion: cloudassist.io/v1alpha1
    kind: S3Bucket
    metadata:
      name: team-a-data        # optional stem: the bucket is <name>-<short id>; without it cloudassist-<request id>
      region: eu-west-1        # required; a region where S3 exists
      tags: {team: a}          # string map, on the bucket (beside CloudAssist's own tags)
    spec:
      versioning: false                                     # default false
      encryption: {algorithm: AES256, bucketKey: false}     # or aws:kms with an optional kmsKeyId
      lifecycleRules:                                       # default none
        - id: expire-logs                                   # required, unique
          prefix: logs/                                     # default "" (the whole bucket)
          expirationDays: 30
          noncurrentVersionExpirationDays: 7
          abortIncompleteMultipartUploadDays: 3
          transitions: [{days: 30, storageClass: STANDARD_IA}]
      publicAccessBlock:                                    # each default true
        {blockPublicAcls: true, ignorePublicAcls: true, blockPublicPolicy: true, restrictPublicBuckets: true}
      cors:                                                 # default none
        - {allowedOrigins: ["https://app.example.com"], allowedMethods: [GET, PUT],
           allowedHeaders: ["*"], exposeHeaders: [ETag], maxAgeSeconds: 3000}
      credentials: iam-user-access-key                      # the only kind (and the default)

Beyond the schema the plugin checks the bucket name (3-54 lower-case letters, digits and hyphens,
not starting with ``xn--``, ``sthree-`` or ``amzn-s3-demo-``), the region (one where S3 exists),
tag keys (not ``aws:``, ``managed-by`` or ``cloudassist-*``, which are AWS's and CloudAssist's own),
lifecycle rule ids (unique), that each rule does something, that a rule expires objects after it
transitions them, and that a KMS key id goes with ``aws:kms``; each error names its document path.

``plan`` names the bucket and the IAM user ``cloudassist-s3-<request id>``; its ``spec`` is the
validated document with the bucket's final name in ``metadata.name`` and the user's in ``iamUser``.
``create`` makes the bucket and (re-)applies every setting on each run (tags, versioning, default
encryption, lifecycle rules, public access block, CORS), then the user, its inline policy scoped to
the bucket and one access key, returned as an AWS credentials-file profile. AWS shows a secret
access key only when it is created: ``create`` always hands out a fresh key and deletes older ones
(a retry after a crash still ends with exactly one valid key), and ``status`` reports the bucket
and the key id without the secret. ``delete`` removes the key, the policy and the user, then
empties the bucket (every version) and deletes it. A bucket tagged for another request is never
adopted or deleted. S3 is billed by use: the estimate is a note, no line items.

Reconciliation: ``inventory`` lists the buckets tagged ``managed-by: cloudassist`` and the IAM users
under ``/cloudassist/`` so tagged; ``missing`` names the bucket or user of a deployed request that
is gone; ``remove`` empties and deletes an orphan bucket (with the IAM user of its request) or
deletes an orphan user.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from django.core.exceptions import ValidationError

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

USER_PATH = "/cloudassist/"
USER_PREFIX = "cloudassist-s3-"
POLICY_NAME = "cloudassist-bucket-access"
MANAGED_BY = "managed-by"

# Lower-case letters, digits and hyphens (no dots: virtual-hosted TLS works for every name);
# 54 characters leave room for the 9-character suffix within S3's 63.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,52}[a-z0-9]")
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_NO_BUCKET = ("404", "NoSuchBucket", "NotFound")
_TAG_TEXT = r"^[A-Za-z0-9 _.:/=+\-@]*$"
STORAGE_CLASSES = ["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]
_THIRTY_DAYS_AT_LEAST = ("STANDARD_IA", "ONEZONE_IA")  # S3 refuses earlier transitions to these
CORS_METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD"]
PUBLIC_ACCESS_FIELDS = {
    "blockPublicAcls": "BlockPublicAcls",
    "ignorePublicAcls": "IgnorePublicAcls",
    "blockPublicPolicy": "BlockPublicPolicy",
    "restrictPublicBuckets": "RestrictPublicBuckets",
}
NOT_ESTIMATED = "This resource is billed by use and is not estimated in advance."


def _days(minimum: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": 36500}


def _strings(*, min_items: int = 0) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": min_items, "maxItems": 100}


DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata"],
    "properties": {
        "apiVersion": {"const": "cloudassist.io/v1alpha1"},
        "kind": {"const": "S3Bucket"},
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "required": ["region"],
            "properties": {
                "name": {"type": "string"},
                "region": {"type": "string"},
                "tags": {
                    "type": "object",
                    "maxProperties": 47,  # S3's 50 tags, less CloudAssist's 3
                    "propertyNames": {
                        "minLength": 1,
                        "maxLength": 128,
                        "pattern": _TAG_TEXT,
                        "errorMessage": "a tag key is 1-128 letters, digits, spaces and _.:/=+-@",
                    },
                    "additionalProperties": {
                        "type": "string",
                        "maxLength": 256,
                        "pattern": _TAG_TEXT,
                        "errorMessage": "a tag value is a string of up to 256 letters, digits, spaces and _.:/=+-@",
                    },
                },
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "properties": {
                "versioning": {"type": "boolean", "default": False},
                "encryption": {
                    "type": "object",
                    "additionalProperties": False,
                    "default": {"algorithm": "AES256"},
                    "properties": {
                        "algorithm": {"enum": ["AES256", "aws:kms"], "default": "AES256"},
                        "kmsKeyId": {"type": "string", "minLength": 1},
                        "bucketKey": {"type": "boolean", "default": False},
                    },
                },
                "lifecycleRules": {
                    "type": "array",
                    "default": [],
                    "maxItems": 1000,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["id"],
                        "properties": {
                            "id": {"type": "string", "minLength": 1, "maxLength": 255},
                            "prefix": {"type": "string", "maxLength": 1024, "default": ""},
                            "expirationDays": _days(1),
                            "noncurrentVersionExpirationDays": _days(1),
                            "abortIncompleteMultipartUploadDays": _days(1),
                            "transitions": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["days", "storageClass"],
                                    "properties": {
                                        "days": _days(0),
                                        "storageClass": {"enum": STORAGE_CLASSES},
                                    },
                                },
                            },
                        },
                    },
                },
                "publicAccessBlock": {
                    "type": "object",
                    "additionalProperties": False,
                    "default": {},
                    "properties": {name: {"type": "boolean", "default": True} for name in PUBLIC_ACCESS_FIELDS},
                },
                "cors": {
                    "type": "array",
                    "default": [],
                    "maxItems": 100,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["allowedOrigins", "allowedMethods"],
                        "properties": {
                            "allowedOrigins": _strings(min_items=1),
                            "allowedMethods": {
                                "type": "array",
                                "minItems": 1,
                                "uniqueItems": True,
                                "items": {"enum": CORS_METHODS},
                            },
                            "allowedHeaders": _strings(),
                            "exposeHeaders": _strings(),
                            "maxAgeSeconds": {"type": "integer", "minimum": 0},
                        },
                    },
                },
                "credentials": {"const": "iam-user-access-key", "default": "iam-user-access-key"},
            },
        },
    },
}


# --- the plugin's own checks --------------------------------------------------------------------


def _bucket_name_error(name: str) -> str | None:
    if not _BUCKET.fullmatch(name):
        return f"'{name}' is not a bucket name (3-54 lower-case letters, digits and hyphens)"
    for prefix in _RESERVED_BUCKET_PREFIXES:
        if name.startswith(prefix):
            return f"'{name}': S3 bucket names may not start with '{prefix}'"
    return None


def check_document(document: dict[str, Any]) -> None:
    """What the schema cannot say: a ValidationError keyed by document path, listing every error."""
    errors: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    metadata, spec = document["metadata"], document["spec"]
    if "name" in metadata and (error := _bucket_name_error(metadata["name"])):
        add("body.metadata.name", error)
    if metadata["region"] not in aws.regions("s3"):
        add("body.metadata.region", f"'{metadata['region']}' is not an AWS region where S3 is available")
    for key in metadata.get("tags", {}):
        if key.lower().startswith(("aws:", "cloudassist-")) or key == MANAGED_BY:
            add(
                f"body.metadata.tags.{key}",
                "this tag key is reserved (aws:, managed-by and cloudassist-* are set for you)",
            )

    encryption = spec["encryption"]
    if "kmsKeyId" in encryption and encryption["algorithm"] != "aws:kms":
        add("body.spec.encryption.kmsKeyId", "a KMS key goes with algorithm aws:kms")

    seen: dict[str, int] = {}
    for index, rule in enumerate(spec["lifecycleRules"]):
        where = f"body.spec.lifecycleRules[{index}]"
        if rule["id"] in seen:
            add(f"{where}.id", f"'{rule['id']}' is the id of lifecycle rule {seen[rule['id']]} too; ids are unique")
        seen.setdefault(rule["id"], index)
        actions = ("expirationDays", "noncurrentVersionExpirationDays", "abortIncompleteMultipartUploadDays")
        if not any(name in rule for name in actions) and not rule.get("transitions"):
            add(where, f"a lifecycle rule needs at least one of {', '.join(actions)} or transitions")
        for number, transition in enumerate(rule.get("transitions", [])):
            if transition["storageClass"] in _THIRTY_DAYS_AT_LEAST and transition["days"] < 30:
                add(
                    f"{where}.transitions[{number}].days",
                    f"S3 moves objects to {transition['storageClass']} after 30 days at the earliest",
                )
            if "expirationDays" in rule and rule["expirationDays"] <= transition["days"]:
                add(
                    f"{where}.expirationDays",
                    f"objects must expire after they move to {transition['storageClass']} "
                    f"(day {transition['days']}), not on day {rule['expirationDays']}",
                )
    if errors:
        raise ValidationError(errors)


# --- words --------------------------------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _rule_words(rule: dict[str, Any]) -> str:
    parts = [f"to {t['storageClass']} after {t['days']} days" for t in rule.get("transitions", [])]
    if "expirationDays" in rule:
        parts.append(f"expire after {rule['expirationDays']} days")
    if "noncurrentVersionExpirationDays" in rule:
        parts.append(f"old versions expire after {rule['noncurrentVersionExpirationDays']} days")
    if "abortIncompleteMultipartUploadDays" in rule:
        parts.append(f"abort unfinished uploads after {rule['abortIncompleteMultipartUploadDays']} days")
    words = ", ".join(parts)
    return f"{rule['prefix']}: {words}" if rule.get("prefix") else words


def public_access_words(block: dict[str, bool]) -> str:
    if all(block.values()):
        return "public access blocked"
    if not any(block.values()):
        return "public access not blocked"
    return "public access partly blocked (" + ", ".join(name for name, on in block.items() if on) + ")"


def bucket_summary(bucket: str, region: str, spec: dict[str, Any]) -> str:
    encryption = spec["encryption"]
    if encryption["algorithm"] == "aws:kms":
        crypto = (
            f"aws:kms encryption ({'key ' + encryption['kmsKeyId'] if 'kmsKeyId' in encryption else 'AWS managed key'})"
        )
    else:
        crypto = "AES256 encryption"
    if encryption.get("bucketKey"):
        crypto += " with a bucket key"
    parts = [
        f"versioning {'on' if spec['versioning'] else 'off'}",
        crypto,
        public_access_words(spec["publicAccessBlock"]),
    ]
    rules = spec["lifecycleRules"]
    if rules:
        parts.append(_plural(len(rules), "lifecycle rule") + " (" + "; ".join(map(_rule_words, rules)) + ")")
    if spec["cors"]:
        parts.append(_plural(len(spec["cors"]), "CORS rule"))
    return f"S3 bucket {bucket} in {region}: " + ", ".join(parts)


# --- what create applies --------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    bucket: str
    region: str
    user: str
    tags: dict[str, str]  # the document's own (CloudAssist's are the target's)
    settings: dict[str, Any]  # the document's spec, defaults filled in

    @property
    def versioning(self) -> bool:
        return bool(self.settings["versioning"])


def spec_for(target: Target) -> Spec:
    """The bucket and user the stored plan names, and the settings to apply."""
    plan = target.spec
    try:
        return Spec(
            bucket=plan["metadata"]["name"],
            region=plan["metadata"]["region"],
            user=plan["iamUser"],
            tags=dict(plan["metadata"].get("tags") or {}),
            settings=plan["spec"],
        )
    except (KeyError, TypeError) as exc:
        raise ProviderError(f"The stored plan is not an aws-s3 plan (no {exc}); submit the request again.") from exc


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


def encryption_configuration(encryption: dict[str, Any]) -> dict[str, Any]:
    default: dict[str, Any] = {"SSEAlgorithm": encryption["algorithm"]}
    if "kmsKeyId" in encryption:
        default["KMSMasterKeyID"] = encryption["kmsKeyId"]
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": encryption["bucketKey"]}]}


def lifecycle_configuration(rules: list[dict[str, Any]]) -> dict[str, Any]:
    converted = []
    for rule in rules:
        item: dict[str, Any] = {"ID": rule["id"], "Filter": {"Prefix": rule["prefix"]}, "Status": "Enabled"}
        if "expirationDays" in rule:
            item["Expiration"] = {"Days": rule["expirationDays"]}
        if rule.get("transitions"):
            item["Transitions"] = [{"Days": t["days"], "StorageClass": t["storageClass"]} for t in rule["transitions"]]
        if "noncurrentVersionExpirationDays" in rule:
            item["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule["noncurrentVersionExpirationDays"]}
        if "abortIncompleteMultipartUploadDays" in rule:
            item["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": rule["abortIncompleteMultipartUploadDays"]}
        converted.append(item)
    return {"Rules": converted}


def cors_configuration(rules: list[dict[str, Any]]) -> dict[str, Any]:
    names = {
        "allowedOrigins": "AllowedOrigins",
        "allowedMethods": "AllowedMethods",
        "allowedHeaders": "AllowedHeaders",
        "exposeHeaders": "ExposeHeaders",
        "maxAgeSeconds": "MaxAgeSeconds",
    }
    return {"CORSRules": [{names[key]: value for key, value in rule.items()} for rule in rules]}


def public_access_configuration(block: dict[str, bool]) -> dict[str, bool]:
    return {aws_name: bool(block[name]) for name, aws_name in PUBLIC_ACCESS_FIELDS.items()}


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


# --- AWS calls ------------------------------------------------------------------------------------


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


def _user_tags(iam, user: str) -> dict[str, str] | None:
    """The IAM user's tags, or None when there is no such user."""
    with aws.translate(f"read IAM user {user}"):
        try:
            return aws.tag_dict(iam.get_user(UserName=user)["User"].get("Tags"))
        except ClientError as exc:
            if aws.is_error(exc, "NoSuchEntity"):
                return None
            raise


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


def _delete_user(iam, user: str) -> bool:
    """Delete the IAM user with its access keys and policies; False when it was already gone."""
    if _user_tags(iam, user) is None:
        return False
    for key_id in _access_keys(iam, user):
        _ignoring(
            f"delete access key {key_id}", iam.delete_access_key, "NoSuchEntity", UserName=user, AccessKeyId=key_id
        )
    with aws.translate(f"list the policies of IAM user {user}"):
        try:
            inline = [
                n for p in iam.get_paginator("list_user_policies").paginate(UserName=user) for n in p["PolicyNames"]
            ]
            attached = [
                a["PolicyArn"]
                for p in iam.get_paginator("list_attached_user_policies").paginate(UserName=user)
                for a in p["AttachedPolicies"]
            ]
        except ClientError as exc:
            if aws.is_error(exc, "NoSuchEntity"):
                return False
            raise
    for name in inline:
        _ignoring(f"delete policy {name}", iam.delete_user_policy, "NoSuchEntity", UserName=user, PolicyName=name)
    for arn in attached:
        _ignoring(f"detach policy {arn}", iam.detach_user_policy, "NoSuchEntity", UserName=user, PolicyArn=arn)
    return _ignoring(f"delete IAM user {user}", iam.delete_user, "NoSuchEntity", UserName=user)


def _empty(s3, bucket: str) -> int:
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


def _delete_bucket(s3, bucket: str) -> Step:
    removed = _empty(s3, bucket)
    _ignoring(f"delete S3 bucket {bucket}", s3.delete_bucket, *_NO_BUCKET, Bucket=bucket)
    return Step("delete_bucket", f"S3 bucket {bucket} emptied ({removed} objects) and deleted", {"objects": removed})


def _bucket_region(s3, bucket: str) -> str:
    with aws.translate(f"read the region of S3 bucket {bucket}"):
        return s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"


@register("aws-s3")
class S3Provider(Provider):
    label = "AWS S3"
    document_schema = DOCUMENT_SCHEMA

    # --- planning -------------------------------------------------------------------------------

    def check(self, manifests: list[dict[str, Any]]) -> Any:
        document = super().check(manifests)
        check_document(document)
        return document

    def plan(self, manifests: list[dict[str, Any]], *, request_id: str | None = None) -> Plan:
        document = self.check(manifests)
        metadata, settings = document["metadata"], document["spec"]
        if "name" in metadata:
            bucket = f"{metadata['name']}-{short_id(request_id)}"
        else:
            bucket = f"cloudassist-{request_id or REQUEST_SUFFIX_PLACEHOLDER}".lower()[:63]
        user = f"{USER_PREFIX}{request_id or REQUEST_SUFFIX_PLACEHOLDER}"[:64]
        region = metadata["region"]
        spec = {**document, "metadata": {**metadata, "name": bucket}, "iamUser": user}
        bucket_attributes = {
            "region": region,
            "versioning": settings["versioning"],
            "encryption": settings["encryption"]["algorithm"],
            "public_access_blocked": all(settings["publicAccessBlock"].values()),
            "lifecycle_rules": len(settings["lifecycleRules"]),
            "cors_rules": len(settings["cors"]),
            "tags": dict(metadata.get("tags") or {}),
        }
        return Plan(
            provider=self.name,
            resources=[
                PlannedResource("S3 bucket", bucket, bucket_summary(bucket, region, settings), bucket_attributes),
                PlannedResource(
                    "IAM user",
                    user,
                    f"IAM user {user} with an access key for this bucket only",
                    {"bucket": bucket, "path": USER_PATH},
                ),
            ],
            spec=spec,
        )

    def estimate(self, plan: Plan, hours: Decimal, prices: Prices) -> Estimate:
        from quotas.estimates import Estimate

        return Estimate(hours=hours, notes=[NOT_ESTIMATED])

    # --- operations -----------------------------------------------------------------------------

    def create(self, target: Target) -> Outcome:
        spec = spec_for(target)
        s3 = aws.client("s3", spec.region)
        iam = aws.client("iam")
        steps: list[Step] = []

        tags = _bucket_tags(s3, spec.bucket)
        existed = tags is not None
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
        self._configure(s3, spec, target, existed=existed)
        steps.append(
            Step(
                "configure_bucket",
                bucket_summary(spec.bucket, spec.region, spec.settings),
                {"versioning": spec.versioning, "lifecycle_rules": len(spec.settings["lifecycleRules"])},
            )
        )

        if _user_tags(iam, spec.user) is None:
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

    def _configure(self, s3, spec: Spec, target: Target, *, existed: bool) -> None:
        """Apply every setting of the plan (again: a retry re-applies them all). On a bucket that
        existed before this run, settings the plan does not have are removed."""
        settings = spec.settings
        with aws.translate(f"configure S3 bucket {spec.bucket}"):
            s3.put_bucket_tagging(Bucket=spec.bucket, Tagging={"TagSet": aws.tag_list({**spec.tags, **target.tags})})
            s3.put_public_access_block(
                Bucket=spec.bucket,
                PublicAccessBlockConfiguration=public_access_configuration(settings["publicAccessBlock"]),
            )
            s3.put_bucket_encryption(
                Bucket=spec.bucket,
                ServerSideEncryptionConfiguration=encryption_configuration(settings["encryption"]),
            )
            if settings["versioning"]:
                s3.put_bucket_versioning(Bucket=spec.bucket, VersioningConfiguration={"Status": "Enabled"})
            elif existed and s3.get_bucket_versioning(Bucket=spec.bucket).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=spec.bucket, VersioningConfiguration={"Status": "Suspended"})
            if settings["lifecycleRules"]:
                s3.put_bucket_lifecycle_configuration(
                    Bucket=spec.bucket, LifecycleConfiguration=lifecycle_configuration(settings["lifecycleRules"])
                )
            elif existed:
                s3.delete_bucket_lifecycle(Bucket=spec.bucket)
            if settings["cors"]:
                s3.put_bucket_cors(Bucket=spec.bucket, CORSConfiguration=cors_configuration(settings["cors"]))
            elif existed:
                s3.delete_bucket_cors(Bucket=spec.bucket)

    def status(self, target: Target) -> Outcome:
        spec = spec_for(target)
        s3 = aws.client("s3", spec.region)
        iam = aws.client("iam")
        tags = _bucket_tags(s3, spec.bucket)
        if tags is not None:
            aws.check_owner(tags, target, what=f"S3 bucket {spec.bucket}")
        user = _user_tags(iam, spec.user) is not None
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
        if _delete_user(iam, spec.user):
            steps.append(Step("delete_user", f"IAM user {spec.user}, its access keys and policies deleted"))
        if tags is not None:
            steps.append(_delete_bucket(s3, spec.bucket))
        if not steps:
            steps.append(Step("delete", f"S3 bucket {spec.bucket} and IAM user {spec.user} are already gone"))
        return Outcome(State.ABSENT, steps=steps)

    def _outputs(self, spec: Spec, access_key_id: str | None) -> dict[str, Any]:
        outputs: dict[str, Any] = {
            "bucket": spec.bucket,
            "bucket_arn": f"arn:aws:s3:::{spec.bucket}",
            "region": spec.region,
            "versioning": spec.versioning,
            "encryption": spec.settings["encryption"]["algorithm"],
            "iam_user": spec.user,
            "access_key_id": access_key_id,
        }
        if aws.endpoint_url():
            outputs["endpoint_url"] = aws.endpoint_url()
        return outputs

    # --- reconciliation -------------------------------------------------------------------------

    def inventory(self) -> list[Found]:
        s3 = aws.client("s3")
        iam = aws.client("iam")
        found: list[Found] = []
        with aws.translate("list the S3 buckets"):
            buckets = s3.list_buckets().get("Buckets", [])
        for bucket in buckets:
            tags = _bucket_tags(s3, bucket["Name"])
            if not tags or tags.get(MANAGED_BY) != "cloudassist":
                continue
            found.append(
                Found(
                    kind="S3 bucket",
                    name=bucket["Name"],
                    request_id=tags.get(aws.REQUEST_TAG),
                    region=_bucket_region(s3, bucket["Name"]),
                    created_at=bucket.get("CreationDate"),
                    detail={"tags": tags},
                )
            )
        with aws.translate("list the IAM users under /cloudassist/"):
            users = [
                u for page in iam.get_paginator("list_users").paginate(PathPrefix=USER_PATH) for u in page["Users"]
            ]
        for user in users:
            if not user["UserName"].startswith(USER_PREFIX):
                continue  # another plugin's
            tags = _user_tags(iam, user["UserName"])
            if not tags or tags.get(MANAGED_BY) != "cloudassist":
                continue
            found.append(
                Found(
                    kind="IAM user",
                    name=user["UserName"],
                    request_id=tags.get(aws.REQUEST_TAG),
                    created_at=user.get("CreateDate"),
                    detail={"tags": tags},
                )
            )
        return found

    def missing(self, target: Target) -> list[str]:
        spec = spec_for(target)
        gone = []
        tags = _bucket_tags(aws.client("s3", spec.region), spec.bucket)
        if tags is None:
            gone.append(f"S3 bucket {spec.bucket}")
        elif tags.get(aws.REQUEST_TAG) not in (None, target.request_id):
            gone.append(f"S3 bucket {spec.bucket} (now tagged for request {tags[aws.REQUEST_TAG]})")
        if _user_tags(aws.client("iam"), spec.user) is None:
            gone.append(f"IAM user {spec.user}")
        return gone

    def remove(self, found: Found) -> list[Step]:
        iam = aws.client("iam")
        steps: list[Step] = []
        if found.kind == "S3 bucket":
            s3 = aws.client("s3", found.region or None)
            tags = _bucket_tags(s3, found.name)
            if tags is not None:
                if tags.get(MANAGED_BY) != "cloudassist" or tags.get(aws.REQUEST_TAG) != found.request_id:
                    raise ProviderError(f"S3 bucket {found.name} is no longer tagged as found; left alone.")
                steps.append(_delete_bucket(s3, found.name))
            if found.request_id:
                user = f"{USER_PREFIX}{found.request_id}"[:64]
                user_tags = _user_tags(iam, user)
                if user_tags is not None and user_tags.get(aws.REQUEST_TAG) == found.request_id:
                    _delete_user(iam, user)
                    steps.append(Step("delete_user", f"IAM user {user}, its access keys and policies deleted"))
        elif found.kind == "IAM user":
            tags = _user_tags(iam, found.name)
            if tags is not None:
                if tags.get(MANAGED_BY) != "cloudassist" or tags.get(aws.REQUEST_TAG) != found.request_id:
                    raise ProviderError(f"IAM user {found.name} is no longer tagged as found; left alone.")
                _delete_user(iam, found.name)
                steps.append(Step("delete_user", f"IAM user {found.name}, its access keys and policies deleted"))
        return steps
