"""The Content-Security-Policy header (django-csp) on every kind of page: the admin, django-rq's
dashboard, the browsable API, the portal, Swagger UI and Redoc. The browser check (no CSP
violation on those pages in chromium) is portal/tests/test_browser_csp.py."""

from __future__ import annotations

import re

import pytest

from conftest import PASSWORD


def _policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";"))}


def _strict(policy: dict[str, list[str]]) -> None:
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]


@pytest.fixture
def staff_client(client, admin_user):
    assert client.post("/admin/login/?next=/admin/", {"username": "admin1", "password": PASSWORD}).status_code == 302
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/login/",
        "/admin/login/",
        "/docs",
        "/docs?script=",
        "/api/v1/auth/token/",  # the browsable API's form, anonymous
    ],
)
def test_anonymous_pages_carry_a_strict_policy(client, path):
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code in (200, 405)
    _strict(_policy(response))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/admin/", "/admin/provisioning/provisionrequest/", "/api/v1/", "/api/v1/users/me/", "/portal/environments/"],
)
def test_signed_in_pages_carry_a_strict_policy(staff_client, path):
    response = staff_client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200, path
    assert b"<html" in response.content.lower()
    _strict(_policy(response))


@pytest.mark.django_db
def test_swagger_ui_loads_its_init_script_from_this_server(client):
    page = client.get("/docs")
    assert b'<script src="/docs?script="></script>' in page.content
    assert not re.search(rb"<script>", page.content), "no inline script"
    script = client.get("/docs?script=")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


@pytest.mark.django_db
def test_redoc_init_script_carries_the_nonce_of_its_policy(client):
    response = client.get("/redoc")
    policy = _policy(response)
    _strict(policy)
    nonces = [value for value in policy["script-src"] if value.startswith("'nonce-")]
    assert len(nonces) == 1
    nonce = nonces[0][len("'nonce-") : -1]
    assert f'<script nonce="{nonce}">'.encode() in response.content
    assert policy["worker-src"] == ["'self'", "blob:"]  # Redoc's search worker
    # Another response, another nonce.
    assert _policy(client.get("/redoc"))["script-src"] != policy["script-src"]


@pytest.mark.django_db
def test_only_the_rq_dashboard_allows_its_inline_scripts(staff_client):
    response = staff_client.get("/admin/rq/")
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["script-src"] == ["'self'", "'unsafe-inline'"]
    assert not any(value.startswith("'nonce-") for value in policy["script-src"])
    assert policy["object-src"] == ["'none'"]


@pytest.mark.django_db
def test_browsable_api_logs_out_with_a_form_not_an_inline_handler(staff_client):
    html = staff_client.get("/api/v1/", HTTP_ACCEPT="text/html").content.decode()
    assert not re.search(r"\son[a-z]+=", html), "no inline event handler (script-src blocks them)"
    assert '<form id="logoutForm" method="post" action="/api-auth/logout/?next=/api/v1/">' in html
    assert staff_client.post("/api-auth/logout/?next=/api/v1/").status_code == 302
    assert staff_client.get("/api/v1/", HTTP_ACCEPT="application/json").status_code == 401
