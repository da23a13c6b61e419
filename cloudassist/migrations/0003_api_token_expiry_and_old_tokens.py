"""API tokens: MongoDB deletes expired ones, and DRF's old tokens become digests.

- A TTL index on ``expires_at`` makes MongoDB delete a token a week after it expired (until
  then, using it is a 401 saying it expired, rather than "invalid").
- Tokens issued before tokens were stored hashed (DRF's ``authtoken_token``, raw keys) are
  carried over as their SHA-256 digests, valid API_TOKEN_TTL_HOURS from this migration, so
  clients keep working; then that collection, the last place raw tokens were kept, is dropped.
"""

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone

from cloudassist.models import token_digest

OLD_COLLECTION = "authtoken_token"
TTL_INDEX = "apitoken_expired_ttl"
KEEP_EXPIRED_SECONDS = 7 * 24 * 3600


def forwards(apps, schema_editor):
    ApiToken = apps.get_model("cloudassist", "ApiToken")
    tokens = schema_editor.connection.get_collection(ApiToken._meta.db_table)
    tokens.create_index([("expires_at", 1)], name=TTL_INDEX, expireAfterSeconds=KEEP_EXPIRED_SECONDS)

    database = schema_editor.connection.database
    if OLD_COLLECTION not in database.list_collection_names():
        return
    now = timezone.now()
    expires_at = now + timedelta(hours=settings.API_TOKEN_TTL_HOURS)
    carried = [
        ApiToken(
            digest=token_digest(old.get("key") or old["_id"]),
            user_id=old["user_id"],
            created_at=old.get("created") or now,
            expires_at=expires_at,
        )
        for old in database[OLD_COLLECTION].find({}, {"_id": 1, "key": 1, "user_id": 1, "created": 1})
        if isinstance(old.get("key") or old["_id"], str)
    ]
    if carried:
        ApiToken.objects.bulk_create(carried)
    database.drop_collection(OLD_COLLECTION)


def backwards(apps, schema_editor):
    # Digests cannot be turned back into tokens: going back leaves everyone to log in again.
    ApiToken = apps.get_model("cloudassist", "ApiToken")
    schema_editor.connection.get_collection(ApiToken._meta.db_table).drop_index(TTL_INDEX)


class Migration(migrations.Migration):
    dependencies = [("cloudassist", "0002_api_tokens")]

    operations = [migrations.RunPython(forwards, backwards)]
