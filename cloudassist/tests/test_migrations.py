from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_migrations_are_committed():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_drf_tokens_are_carried_over_as_digests_and_their_collection_dropped(dev_user, settings):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from rest_framework.test import APIClient

    from cloudassist.models import ApiToken, token_digest

    before, after = [("cloudassist", "0002_api_tokens")], [("cloudassist", "0003_api_token_expiry_and_old_tokens")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old_key = "a" * 40
        connection.database["authtoken_token"].insert_one({"_id": old_key, "user_id": dev_user.pk})
        MigrationExecutor(connection).migrate(after)
    finally:
        MigrationExecutor(connection).migrate(after)  # leave the schema as the other tests expect
    assert "authtoken_token" not in connection.database.list_collection_names()
    carried = ApiToken.objects.get(user=dev_user)
    assert carried.digest == token_digest(old_key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {old_key}")
    assert client.get("/api/v1/users/me/").status_code == 200
