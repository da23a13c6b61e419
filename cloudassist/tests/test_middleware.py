"""cloudassist/middleware.py: token API and /configs requests skip sessions, CSRF, the session user
and messages; the admin, the portal and the browsable API with a session keep all of them."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cloudassist import services
from cloudassist.middleware import token_api_request
from conftest import PASSWORD

ME = "/api/v1/users/me/"
SESSIONS = "django_session"


def _signed_in(username: str = "dev1", **kwargs) -> Client:
    client = Client(**kwargs)
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.mark.parametrize(
    ("path", "header", "skips"),
    [
        ("/api/v1/users/me/", "Token abc", True),
        ("/api/v1/users/me/", "token abc", True),  # DRF reads the keyword case-insensitively
        ("/configs/x", "Token abc", True),
        ("/api/v1/configs/x", "Token abc", True),
        ("/api/v1/users/me/", "", False),
        ("/api/v1/users/me/", "Bearer abc", False),
        ("/api/v1/users/me/", "Tokenabc", False),
        ("/admin/", "Token abc", False),
        ("/portal/", "Token abc", False),
    ],
)
def test_which_requests_skip_the_browser_middleware(rf, path, header, skips):
    request = rf.get(path, HTTP_AUTHORIZATION=header) if header else rf.get(path)
    assert token_api_request(request) is skips


@pytest.mark.django_db
def test_a_token_request_never_loads_the_session_even_with_a_session_cookie(dev_user, mongo_commands):
    client = _signed_in()
    raw = services.issue_token(user=dev_user)[1]
    with mongo_commands() as seen:
        response = client.get(ME, HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 200
    assert response.json()["username"] == "dev1"
    assert not seen.on(SESSIONS), seen.summary()
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies  # no session or CSRF cookie set


@pytest.mark.django_db
def test_a_bad_token_is_a_401_and_never_falls_back_to_the_session(dev_user):
    response = _signed_in().get(ME, HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code == 401


@pytest.mark.django_db
def test_a_token_request_can_write_without_csrf(dev_user):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {services.issue_token(user=dev_user)[1]}")
    assert client.post("/api/v1/auth/logout/").status_code == 204


@pytest.mark.django_db
def test_session_writes_to_the_api_still_need_the_csrf_token(admin_user):
    client = _signed_in("admin1", enforce_csrf_checks=True)
    refused = client.post("/api/v1/roles/", {"name": "auditors"}, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]
    client.get(ME, HTTP_ACCEPT="text/html")  # the browsable API sets the CSRF cookie
    accepted = client.post(
        "/api/v1/roles/",
        {"name": "auditors"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert accepted.status_code == 201, accepted.content


@pytest.mark.django_db
def test_the_browsable_api_with_a_session_works(dev_user):
    response = _signed_in().get(ME, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"dev1" in response.content


@pytest.mark.django_db
def test_the_admin_keeps_its_session_and_csrf_whatever_the_headers(admin_user):
    client = _signed_in("admin1", enforce_csrf_checks=True)
    assert client.get("/admin/", HTTP_AUTHORIZATION="Token abc").status_code == 200
    response = client.post("/admin/logout/", HTTP_AUTHORIZATION="Token abc")
    assert response.status_code == 403  # CSRF still protects the admin
