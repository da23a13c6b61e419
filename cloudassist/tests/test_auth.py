import pytest
from rest_framework.test import APIClient

from conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token/"


@pytest.mark.django_db
def test_token_for_valid_credentials_authenticates_requests(dev_user):
    client = APIClient()
    response = client.post(TOKEN_URL, {"username": "dev1", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert len(token) == 40

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get("/api/v1/users/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "dev1"
    # The same user gets the same token again.
    again = APIClient().post(TOKEN_URL, {"username": "dev1", "password": PASSWORD}, format="json")
    assert again.json()["token"] == token


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
def test_login_throttle_counts_in_redis_for_every_web_process(dev_user, settings):
    from django.core.cache import cache, caches
    from rest_framework.throttling import SimpleRateThrottle

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
