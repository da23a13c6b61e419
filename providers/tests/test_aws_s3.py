"""The aws-s3 plugin against a real moto server over HTTP (no mocks of boto3): templates are saved
through the template services, planned through templates.planning with a request id, applied by
the plugin, and what exists is checked with plain boto3 calls against the emulator."""

import configparser

import boto3
import pytest
from botocore.exceptions import ClientError
from bson import ObjectId
from django.core.exceptions import ValidationError

import providers
from providers import aws
from providers.base import Found, ProviderError, State, Target
from templates import planning, services
from templates.seed import S3_BUCKET

pytestmark = [pytest.mark.usefixtures("moto_endpoint"), pytest.mark.django_db]

EDITED_BODY = """\
apiVersion: cloudassist.io/v1alpha1
kind: S3Bucket
metadata:
  name: {{ bucket }}
  region: {{ region }}
  tags:
    team: a
    cost-center: "42"
spec:
  versioning: true
  encryption:
    algorithm: AES256
    bucketKey: true
  lifecycleRules:
    - id: expire-logs
      prefix: logs/
      expirationDays: 30
      noncurrentVersionExpirationDays: 7
      abortIncompleteMultipartUploadDays: 3
    - id: archive
      prefix: archive/
      transitions:
        - {days: 30, storageClass: STANDARD_IA}
        - {days: 90, storageClass: GLACIER}
  cors:
    - allowedOrigins: ["https://app.example.com"]
      allowedMethods: [GET, PUT]
      allowedHeaders: ["*"]
      exposeHeaders: [ETag]
      maxAgeSeconds: 3000
"""

PARAMETERS = {"bucket": "team-a-data", "region": "eu-west-1"}


@pytest.fixture
def boto(moto_endpoint):
    """Plain boto3 clients on the emulator, to check what the plugin did."""

    def make(service: str, region: str = "us-east-1", **credentials):
        credentials = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.client(service, region_name=region, endpoint_url=moto_endpoint, **credentials)

    return make


@pytest.fixture
def template():
    return services.create_template(actor=None, **S3_BUCKET)


def target_of(template, parameters: dict, *, request_id: str | None = None, owner: str = "dev1") -> Target:
    request_id = request_id or str(ObjectId())
    planned = planning.plan(
        provider=template.provider,
        body=template.body,
        schema=template.parameters_schema,
        parameters=parameters,
        request_id=request_id,
    )
    return Target(request_id=request_id, owner=owner, plan=planned.plan, expires_at=None)


def _error_code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"]


def _profile(secret: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser.read_string(secret)
    (section,) = parser.sections()
    return parser[section]


def _edit(template, body: str = EDITED_BODY):
    return services.update_template(template=template, body=body)


# --- the seeded template, as the provider did before plans ---------------------------------------------


def test_the_seeded_template_makes_a_tagged_private_encrypted_bucket_and_scoped_credentials(template, boto):
    target = target_of(template, {**PARAMETERS, "versioning": True})

    outcome = providers.get("aws-s3").create(target)

    assert outcome.state == State.READY
    bucket = f"team-a-data-{target.short_id}"
    assert outcome.outputs["bucket"] == bucket
    assert outcome.outputs["region"] == "eu-west-1"
    assert outcome.outputs["versioning"] is True
    assert outcome.outputs["encryption"] == "AES256"
    s3 = boto("s3", "eu-west-1")
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"
    assert aws.tag_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == target.tags
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert _error_code(s3.get_bucket_lifecycle_configuration, Bucket=bucket) == "NoSuchLifecycleConfiguration"
    assert _error_code(s3.get_bucket_cors, Bucket=bucket) == "NoSuchCORSConfiguration"

    iam = boto("iam")
    user = f"cloudassist-s3-{target.request_id}"
    assert outcome.outputs["iam_user"] == user
    assert iam.get_user(UserName=user)["User"]["Path"] == "/cloudassist/"
    assert aws.tag_dict(iam.get_user(UserName=user)["User"]["Tags"]) == target.tags
    policy = iam.get_user_policy(UserName=user, PolicyName="cloudassist-bucket-access")["PolicyDocument"]
    resources = {statement["Resource"] for statement in policy["Statement"]}
    assert resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [key["AccessKeyId"] for key in keys] == [outcome.outputs["access_key_id"]]

    assert outcome.secret_kind == "credentials"
    profile = _profile(outcome.secret)
    assert profile["aws_access_key_id"] == outcome.outputs["access_key_id"]
    assert profile["region"] == "eu-west-1"
    as_user = boto(
        "s3",
        "eu-west-1",
        aws_access_key_id=profile["aws_access_key_id"],
        aws_secret_access_key=profile["aws_secret_access_key"],
    )
    as_user.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
    assert as_user.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello"


def test_the_plan_says_what_will_be_created_in_words(template):
    target = target_of(template, PARAMETERS)

    assert target.plan.lines == [
        f"S3 bucket team-a-data-{target.short_id} in eu-west-1: versioning off, AES256 encryption, "
        "public access blocked",
        f"IAM user cloudassist-s3-{target.request_id} with an access key for this bucket only",
    ]
    assert target.spec["metadata"]["name"] == f"team-a-data-{target.short_id}"
    assert target.spec["iamUser"] == f"cloudassist-s3-{target.request_id}"
    assert target.spec["spec"] == {
        "versioning": False,
        "encryption": {"algorithm": "AES256", "bucketKey": False},
        "lifecycleRules": [],
        "publicAccessBlock": {
            "blockPublicAcls": True,
            "ignorePublicAcls": True,
            "blockPublicPolicy": True,
            "restrictPublicBuckets": True,
        },
        "cors": [],
        "credentials": "iam-user-access-key",
    }

    edited = target_of(_edit(template), PARAMETERS)
    bucket_line, _ = edited.plan.lines
    assert bucket_line == (
        f"S3 bucket team-a-data-{edited.short_id} in eu-west-1: versioning on, AES256 encryption with a bucket key, "
        "public access blocked, 2 lifecycle rules (logs/: expire after 30 days, old versions expire after 7 days, "
        "abort unfinished uploads after 3 days; archive/: to STANDARD_IA after 30 days, to GLACIER after 90 days), "
        "1 CORS rule"
    )
    # A dry run (no request yet) names things with a placeholder.
    dry = planning.plan(
        provider="aws-s3", body=template.body, schema=template.parameters_schema, parameters={"bucket": "x-y"}
    )
    assert [r.name for r in dry.plan.resources] == ["x-y-xxxxxxxx", "cloudassist-s3-xxxxxxxx"]


def test_the_estimate_is_a_billed_by_use_note(template):
    estimate = planning.price(target_of(template, PARAMETERS).plan, 24)
    assert estimate.line_items == []
    assert estimate.usd == 0
    assert estimate.notes == ["This resource is billed by use and is not estimated in advance."]


# --- a template edit changes what is created; purge removes all of it --------------------------------


def test_a_template_edit_changes_what_is_created_and_purge_removes_all_of_it(template, boto):
    edited = _edit(template)
    assert edited.version == 2
    target = target_of(edited, PARAMETERS)
    provider = providers.get("aws-s3")

    outcome = provider.create(target)

    bucket, user = outcome.outputs["bucket"], outcome.outputs["iam_user"]
    s3 = boto("s3", "eu-west-1")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert set(rules) == {"expire-logs", "archive"}
    logs = rules["expire-logs"]
    assert logs["Status"] == "Enabled"
    assert logs["Filter"] == {"Prefix": "logs/"}
    assert logs["Expiration"] == {"Days": 30}
    assert logs["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7
    assert logs["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
    assert rules["archive"]["Filter"] == {"Prefix": "archive/"}
    assert [(t["Days"], t["StorageClass"]) for t in rules["archive"]["Transitions"]] == [
        (30, "STANDARD_IA"),
        (90, "GLACIER"),
    ]
    (cors,) = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert cors["AllowedOrigins"] == ["https://app.example.com"]
    assert cors["AllowedMethods"] == ["GET", "PUT"]
    assert cors["AllowedHeaders"] == ["*"]
    assert cors["ExposeHeaders"] == ["ETag"]
    assert cors["MaxAgeSeconds"] == 3000
    assert aws.tag_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == {
        "team": "a",
        "cost-center": "42",
        **target.tags,
    }
    assert set(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values()) == {True}
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert rule["BucketKeyEnabled"] is True
    s3.put_object(Bucket=bucket, Key="logs/a.txt", Body=b"one")
    s3.put_object(Bucket=bucket, Key="logs/a.txt", Body=b"two")

    purged = provider.delete(target)

    assert purged.state == State.ABSENT
    assert [step.action for step in purged.steps] == ["delete_user", "delete_bucket"]
    assert purged.steps[1].data == {"objects": 2}
    assert _error_code(s3.head_bucket, Bucket=bucket) == "404"
    assert s3.list_buckets()["Buckets"] == []
    assert _error_code(boto("iam").get_user, UserName=user) == "NoSuchEntity"
    assert boto("iam").list_users(PathPrefix="/cloudassist/")["Users"] == []


def test_public_access_and_kms_encryption_are_applied_as_written(template, boto):
    body = (
        S3_BUCKET["body"]
        .replace("    blockPublicPolicy: true\n", "    blockPublicPolicy: false\n")
        .replace("    algorithm: AES256", "    algorithm: aws:kms\n    kmsKeyId: alias/team-a")
    )
    target = target_of(_edit(template, body), PARAMETERS)
    assert "public access partly blocked" in target.plan.lines[0]
    assert "aws:kms encryption (key alias/team-a)" in target.plan.lines[0]

    bucket = providers.get("aws-s3").create(target).outputs["bucket"]

    s3 = boto("s3", "eu-west-1")
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True,
    }
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/team-a"}


def test_create_again_keeps_the_bucket_reapplies_the_settings_and_hands_out_one_fresh_key(template, boto):
    target = target_of(_edit(template), PARAMETERS)
    provider = providers.get("aws-s3")
    first = provider.create(target)
    bucket = first.outputs["bucket"]
    s3 = boto("s3", "eu-west-1")
    s3.put_object(Bucket=bucket, Key="kept.txt", Body=b"kept")
    # Settings changed behind the plugin's back are put back by a retry.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_lifecycle(Bucket=bucket)
    s3.delete_bucket_cors(Bucket=bucket)

    again = provider.create(target)

    assert again.state == State.READY
    assert [step.action for step in again.steps] == ["configure_bucket", "delete_access_key", "create_access_key"]
    assert {k: v for k, v in again.outputs.items() if k != "access_key_id"} == {
        k: v for k, v in first.outputs.items() if k != "access_key_id"
    }
    keys = boto("iam").list_access_keys(UserName=again.outputs["iam_user"])["AccessKeyMetadata"]
    assert [key["AccessKeyId"] for key in keys] == [again.outputs["access_key_id"]]  # the old key is gone
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [bucket]
    assert s3.get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"kept"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert len(s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]) == 2
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 1


def test_status_reports_the_bucket_without_the_secret(template):
    target = target_of(template, PARAMETERS)
    provider = providers.get("aws-s3")
    assert provider.status(target).state == State.ABSENT
    created = provider.create(target)

    status = provider.status(target)

    assert status.state == State.READY
    assert status.outputs == created.outputs
    assert status.secret is None  # AWS shows a secret access key only once


def test_delete_empties_every_version_and_is_idempotent(template, boto):
    target = target_of(template, {**PARAMETERS, "versioning": True})
    provider = providers.get("aws-s3")
    created = provider.create(target)
    bucket = created.outputs["bucket"]
    s3 = boto("s3", "eu-west-1")
    for body in (b"one", b"two"):
        s3.put_object(Bucket=bucket, Key="file.txt", Body=body)
    s3.put_object(Bucket=bucket, Key="dir/other.txt", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="dir/other.txt")  # a delete marker
    s3.create_multipart_upload(Bucket=bucket, Key="unfinished.bin")

    outcome = provider.delete(target)

    assert [step.action for step in outcome.steps] == ["delete_user", "delete_bucket"]
    assert outcome.steps[1].data == {"objects": 4}
    assert _error_code(s3.head_bucket, Bucket=bucket) == "404"
    again = provider.delete(target)
    assert again.state == State.ABSENT
    assert [step.action for step in again.steps] == ["delete"]
    assert provider.status(target).state == State.ABSENT


def test_without_a_name_the_bucket_is_named_after_the_request(template, boto):
    body = S3_BUCKET["body"].replace("  name: {{ bucket }}  # CloudAssist appends the request's short id\n", "")
    target = target_of(_edit(template, body), {"bucket": "unused", "region": "us-east-1"})
    outcome = providers.get("aws-s3").create(target)
    assert outcome.outputs["bucket"] == f"cloudassist-{target.request_id}"
    assert outcome.outputs["versioning"] is False
    assert "Status" not in boto("s3").get_bucket_versioning(Bucket=outcome.outputs["bucket"])


def test_never_adopts_or_deletes_a_bucket_of_another_request(template, boto):
    target = target_of(template, PARAMETERS)
    other = target_of(template, PARAMETERS)
    s3 = boto("s3", "eu-west-1")
    bucket = f"team-a-data-{target.short_id}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": aws.tag_list(other.tags)})

    with pytest.raises(ProviderError, match=f"belongs to request {other.request_id}"):
        providers.get("aws-s3").create(target)
    with pytest.raises(ProviderError, match=f"belongs to request {other.request_id}"):
        providers.get("aws-s3").delete(target)
    s3.head_bucket(Bucket=bucket)


# --- what is refused when the template is saved -------------------------------------------------------


def _refused(template, body: str) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        _edit(template, body)
    return info.value.message_dict


def test_an_unsupported_field_is_refused_at_save_naming_it(template):
    errors = _refused(template, S3_BUCKET["body"] + "  website:\n    indexDocument: index.html\n")
    assert errors == {"body.spec.website": ["not supported by aws-s3"]}
    errors = _refused(template, S3_BUCKET["body"].replace("    algorithm: AES256", "    algorithm: AES256\n    sse: c"))
    assert errors == {"body.spec.encryption.sse": ["not supported by aws-s3"]}


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        ("region: {{ region }}", "region: mars-1", "body.metadata.region", "not an AWS region where S3"),
        ("name: {{ bucket }}", "name: xn--{{ bucket }}", "body.metadata.name", "may not start with 'xn--'"),
        ("name: {{ bucket }}", "name: Team_A", "body.metadata.name", "is not a bucket name"),
        (
            "region: {{ region }}",
            "region: {{ region }}\n  tags: {managed-by: me}",
            "body.metadata.tags.managed-by",
            "reserved",
        ),
        ("versioning: {{ versioning | tojson }}", "versioning: sometimes", "body.spec.versioning", "is not of type"),
        ("algorithm: AES256", "algorithm: DES", "body.spec.encryption.algorithm", "is not one of"),
        ("algorithm: AES256", "algorithm: AES256\n    kmsKeyId: k", "body.spec.encryption.kmsKeyId", "aws:kms"),
        ("credentials: iam-user-access-key", "credentials: role", "body.spec.credentials", "was expected"),
        (
            "credentials:",
            "lifecycleRules:\n    - {id: a, expirationDays: 30}\n    - {id: a, expirationDays: 60}\n  credentials:",
            "body.spec.lifecycleRules[1].id",
            "ids are unique",
        ),
        (
            "credentials:",
            "lifecycleRules:\n    - {id: a, expirationDays: 30, transitions: [{days: 30, storageClass: GLACIER}]}\n"
            "  credentials:",
            "body.spec.lifecycleRules[0].expirationDays",
            "must expire after they move to GLACIER",
        ),
        (
            "credentials:",
            "lifecycleRules:\n    - {id: a, transitions: [{days: 7, storageClass: STANDARD_IA}]}\n  credentials:",
            "body.spec.lifecycleRules[0].transitions[0].days",
            "after 30 days at the earliest",
        ),
        (
            "credentials:",
            "lifecycleRules:\n    - {id: a, prefix: tmp/}\n  credentials:",
            "body.spec.lifecycleRules[0]",
            "needs at least one of",
        ),
        (
            "credentials:",
            "cors:\n    - {allowedOrigins: ['*'], allowedMethods: [PATCH]}\n  credentials:",
            "body.spec.cors[0].allowedMethods[0]",
            "is not one of",
        ),
    ],
)
def test_plugin_checks_name_the_document_path(template, old, new, path, message):
    errors = _refused(template, S3_BUCKET["body"].replace(old, new, 1))
    assert path in errors, errors
    assert any(message in text for text in errors[path]), errors


# --- reconciliation ---------------------------------------------------------------------------------


def test_inventory_finds_a_tagged_bucket_made_by_hand_and_remove_deletes_it(template, boto):
    s3 = boto("s3", "eu-west-1")
    s3.create_bucket(Bucket="orphan-by-hand", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_tagging(
        Bucket="orphan-by-hand",
        Tagging={"TagSet": aws.tag_list({"managed-by": "cloudassist", "cloudassist-request": "0" * 24})},
    )
    s3.put_object(Bucket="orphan-by-hand", Key="left.txt", Body=b"x")
    boto("s3").create_bucket(Bucket="someone-elses")  # untagged: never ours
    iam = boto("iam")
    iam.create_user(
        UserName=f"cloudassist-s3-{'0' * 24}",
        Path="/cloudassist/",
        Tags=aws.tag_list({"managed-by": "cloudassist", "cloudassist-request": "0" * 24}),
    )
    iam.create_access_key(UserName=f"cloudassist-s3-{'0' * 24}")
    deployed = target_of(template, PARAMETERS)
    provider = providers.get("aws-s3")
    provider.create(deployed)

    found = {(f.kind, f.name): f for f in provider.inventory()}

    assert set(found) == {
        ("S3 bucket", "orphan-by-hand"),
        ("IAM user", f"cloudassist-s3-{'0' * 24}"),
        ("S3 bucket", f"team-a-data-{deployed.short_id}"),
        ("IAM user", f"cloudassist-s3-{deployed.request_id}"),
    }
    orphan = found[("S3 bucket", "orphan-by-hand")]
    assert orphan.request_id == "0" * 24
    assert orphan.region == "eu-west-1"
    assert orphan.created_at is not None
    assert found[("S3 bucket", f"team-a-data-{deployed.short_id}")].request_id == deployed.request_id

    steps = provider.remove(orphan)

    assert [step.action for step in steps] == ["delete_bucket", "delete_user"]
    assert _error_code(s3.head_bucket, Bucket="orphan-by-hand") == "404"
    assert _error_code(iam.get_user, UserName=f"cloudassist-s3-{'0' * 24}") == "NoSuchEntity"
    assert provider.remove(found[("IAM user", f"cloudassist-s3-{'0' * 24}")]) == []  # already gone
    s3.head_bucket(Bucket="someone-elses")
    assert {(f.kind, f.name) for f in provider.inventory()} == {
        ("S3 bucket", f"team-a-data-{deployed.short_id}"),
        ("IAM user", f"cloudassist-s3-{deployed.request_id}"),
    }


def test_remove_leaves_a_resource_whose_tags_changed_alone(boto):
    s3 = boto("s3")
    s3.create_bucket(Bucket="retagged")
    s3.put_bucket_tagging(Bucket="retagged", Tagging={"TagSet": aws.tag_list({"managed-by": "someone"})})
    found = Found(kind="S3 bucket", name="retagged", request_id="1" * 24, region="us-east-1")
    with pytest.raises(ProviderError, match="no longer tagged as found"):
        providers.get("aws-s3").remove(found)
    s3.head_bucket(Bucket="retagged")


def test_missing_reports_a_bucket_deleted_behind_the_plugins_back(template, boto):
    target = target_of(template, PARAMETERS)
    provider = providers.get("aws-s3")
    outcome = provider.create(target)
    assert provider.missing(target) == []

    boto("s3", "eu-west-1").delete_bucket(Bucket=outcome.outputs["bucket"])

    assert provider.missing(target) == [f"S3 bucket {outcome.outputs['bucket']}"]
    provider.delete(target)  # the user too
    assert provider.missing(target) == [
        f"S3 bucket {outcome.outputs['bucket']}",
        f"IAM user {outcome.outputs['iam_user']}",
    ]
