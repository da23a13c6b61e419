from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from cloudassist import services
from cloudassist.models import ApiToken, token_digest
from conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token/"
TOKENS_URL = "/api/v1/auth/tokens/"
LOGOUT_URL = "/api/v1/auth/logout/"


def _login(username: str = "dev1") -> tuple[APIClient, dict]:
    response = APIClient().post(TOKEN_URL, {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client, response.json()


@pytest.mark.django_db
def test_token_for_valid_credentials_authenticates_requests(dev_user):
    client, body = _login()
    token = body["token"]
    assert len(token) == 40
    assert set(body) == {"token", "id", "created_at", "expires_at"}

    me = client.get("/api/v1/users/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "dev1"
    # Each login issues another token; the first one keeps working.
    _, again = _login()
    assert again["token"] != token
    assert again["id"] != body["id"]
    assert client.get("/api/v1/users/me/").status_code == 200


@pytest.mark.django_db
def test_tokens_expire_after_the_configured_hours(dev_user, settings):
    settings.API_TOKEN_TTL_HOURS = 2
    client, body = _login()
    lifetime = parse_datetime(body["expires_at"]) - parse_datetime(body["created_at"])
    assert lifetime == timedelta(hours=2)
    assert client.get("/api/v1/users/me/").status_code == 200

    ApiToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/users/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert response.json()["error"].startswith("Token expired at ")
    assert "POST /api/v1/auth/token/" in response.json()["error"]
    assert response.headers["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_only_a_digest_of_the_token_is_stored(dev_user):
    _, body = _login()
    document = connection.get_collection(ApiToken._meta.db_table).find_one({})
    assert document["digest"] == token_digest(body["token"])
    assert body["token"] not in repr(document)
    assert "authtoken_token" not in connection.database.list_collection_names()


@pytest.mark.django_db
def test_owners_list_their_tokens_without_their_values(dev_user, other_dev):
    client, first = _login()
    _, second = _login()
    _login("dev2")  # someone else's
    response = client.get(TOKENS_URL)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [second["id"], first["id"]]  # newest first
    assert response.json()["count"] == 2
    assert set(rows[0]) == {"url", "id", "created_at", "expires_at", "last_used_at", "current"}
    assert [row["current"] for row in rows] == [False, True]
    assert rows[1]["last_used_at"] is not None
    assert rows[0]["last_used_at"] is None
    assert rows[1]["url"].endswith(f"{TOKENS_URL}{first['id']}/")
    content = response.content.decode()
    assert first["token"] not in content
    assert token_digest(first["token"]) not in content


@pytest.mark.django_db
def test_an_owner_revokes_one_token(dev_user, other_dev):
    client, _first = _login()
    other_client, second = _login()
    assert client.delete(f"{TOKENS_URL}{second['id']}/").status_code == 204
    refused = other_client.get("/api/v1/users/me/")
    assert (refused.status_code, refused.json()["error"]) == (401, "Invalid token.")
    assert client.get("/api/v1/users/me/").status_code == 200
    # Someone else's token, an unknown id or a malformed one: 404, and nothing is deleted.
    _, theirs = _login("dev2")
    assert client.delete(f"{TOKENS_URL}{theirs['id']}/").status_code == 404
    assert client.delete(f"{TOKENS_URL}{second['id']}/").status_code == 404
    assert client.delete(f"{TOKENS_URL}not-an-id/").status_code == 404
    assert ApiToken.objects.filter(pk=theirs["id"]).exists()


@pytest.mark.django_db
def test_logout_revokes_the_current_token_only(dev_user):
    client, _first = _login()
    other_client, second = _login()
    assert client.post(LOGOUT_URL).status_code == 204
    assert client.get("/api/v1/users/me/").status_code == 401
    assert other_client.get("/api/v1/users/me/").status_code == 200
    assert [str(pk) for pk in ApiToken.objects.values_list("id", flat=True)] == [second["id"]]
    assert APIClient().post(LOGOUT_URL).status_code == 401


@pytest.mark.django_db
def test_logout_without_a_token_is_a_400(client, admin_user):
    assert client.post("/admin/login/?next=/admin/", {"username": "admin1", "password": PASSWORD}).status_code == 302
    response = client.post(LOGOUT_URL, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 400
    assert response.json()["code"] == "no_token"


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute(dev_user):
    token, raw = services.issue_token(user=dev_user)
    assert token.last_used_at is None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    client.get("/api/v1/users/me/")
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    client.get("/api/v1/users/me/")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/users/me/")
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first - timedelta(minutes=2)


@pytest.mark.django_db
def test_expired_tokens_are_deleted_by_mongodb_a_week_later(db):
    indexes = connection.get_collection(ApiToken._meta.db_table).index_information()
    ttl = indexes["apitoken_expired_ttl"]
    assert ttl["key"] == [("expires_at", 1)]
    assert ttl["expireAfterSeconds"] == 7 * 24 * 3600


@pytest.mark.django_db
def test_wrong_password_is_a_400_without_a_token(dev_user):
    response = APIClient().post(TOKEN_URL, {"username": "dev1", "password": "nope"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "token" not in body
    assert body["error"] == "Unable to log in with the given username and password."


@pytest.mark.django_db
def test_inactive_user_gets_no_token(make_user):
    make_user("gone", "dev", is_active=False)
    response = APIClient().post(TOKEN_URL, {"username": "gone", "password": PASSWORD}, format="json")
    assert response.status_code == 400


@pytest.mark.django_db
def test_missing_password_names_the_field():
    response = APIClient().post(TOKEN_URL, {"username": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"password": ["This field is required."]}
    assert "'password'" in response.json()["error"]


@pytest.mark.django_db
def test_invalid_token_is_a_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = client.get("/api/v1/users/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/", "/api/v1/users/", "/api/v1/users/me/", "/api/v1/roles/", "/api/v1/templates/"]
)
def test_anonymous_requests_get_401(path):
    response = APIClient().get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "error": "Authentication credentials were not provided.",
        "code": "not_authenticated",
        "status": 401,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health", "/api/schema/", "/api-docs", "/docs", "/redoc"])
def test_health_schema_and_docs_are_public(path):
    assert APIClient().get(path).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("username", "can_log_in"), [("admin1", True), ("ops1", True), ("dev1", False)])
def test_admin_login_for_admins_and_devops_only(client, admin_user, devops_user, dev_user, username, can_log_in):
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": PASSWORD})
    if can_log_in:
        assert response.status_code == 302
        assert client.get("/admin/").status_code == 200
    else:
        assert response.status_code == 200  # the form again, with an error
        assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_login_throttle_counts_in_redis_for_every_web_process(dev_user, settings, monkeypatch):
    from django.core.cache import cache, caches
    from rest_framework.throttling import SimpleRateThrottle

    # The default rate (the test plugin raises it): 1,000 attempts could outlast the minute's window.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "auth-token", "30/minute")
    limit, _ = SimpleRateThrottle.parse_rate(None, SimpleRateThrottle.THROTTLE_RATES["auth-token"])
    statuses = [
        APIClient().post(TOKEN_URL, {"username": "dev1", "password": "nope"}, format="json").status_code
        for _ in range(limit)
    ]
    assert statuses == [400] * limit
    # The count is in Redis, not in this process's memory: another process (here, this one with
    # its local cache emptied) sees the same limit reached.
    cache.clear()
    shared = caches["shared"]
    keys = list(shared._cache.get_client().scan_iter(match=f"{shared.key_prefix}:*throttle_auth-token*"))
    assert len(keys) == 1
    refused = APIClient().post(TOKEN_URL, {"username": "dev1", "password": PASSWORD}, format="json")
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers


@pytest.mark.django_db
def test_the_token_list_is_cut_on_the_owner_index(dev_user, mongo_commands):
    from cloudassist.testing.mongo import assert_index_count, assert_page_pipeline, assert_uses_index

    client, _ = _login()
    for _ in range(3):
        _login()
    client.get(TOKENS_URL)  # the first use notes last_used_at
    with mongo_commands() as seen:
        response = client.get(TOKENS_URL, {"page_size": 2})
    assert response.status_code == 200
    assert response.json()["count"] == 4
    tokens = ApiToken._meta.db_table
    page = next(c for c in seen.named("aggregate", tokens) if any("$limit" in stage for stage in c["pipeline"][2:]))
    assert page["pipeline"][0] == {"$match": {"user_id": dev_user.pk}}
    assert_page_pipeline(page["pipeline"])
    assert_uses_index(page, sorted_by_index=True)
    counts = [c for c in seen.on(tokens) if c["name"] in ("count", "aggregate") and c is not page]
    counts = [c for c in counts if "$lookup" not in str(c.get("pipeline"))]  # not the authentication's
    assert len(counts) == 1, seen.summary()
    assert_index_count(counts[0])
