"""Login throttles that hold: keyed on the client address through TRUSTED_PROXY_COUNT proxies (a forged
X-Forwarded-For buys nothing), one budget for the token endpoint and every password form, the
admin's included. The counters are in the real Redis (the shared cache), emptied between tests."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from cloudassist.api.throttling import client_address
from conftest import PASSWORD

TOKEN_URL = "/api/v1/auth/token/"
RATE = "30/minute"  # the default (the test plugin raises it to 1000/minute for the other tests)
LIMIT, _ = SimpleRateThrottle.parse_rate(None, RATE)
FORMS = ["/login/", "/admin/login/", "/api-auth/login/"]


@pytest.fixture(autouse=True)
def _default_rate(monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "auth-token", RATE)


def token_attempt(forwarded_for: str | None = None, password: str = "nope", remote: str = "127.0.0.1") -> int:
    extra = {"REMOTE_ADDR": remote}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    response = APIClient().post(TOKEN_URL, {"username": "dev1", "password": password}, format="json", **extra)
    return response.status_code


def form_attempt(path: str, forwarded_for: str | None = None, password: str = "nope") -> int:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for is not None else {}
    return Client().post(path, {"username": "dev1", "password": password}, **extra).status_code


@pytest.mark.django_db
def test_sixty_forged_forwarded_for_addresses_still_get_429(dev_user):
    statuses = [token_attempt(forwarded_for=f"203.0.113.{n}") for n in range(60)]
    assert statuses == [400] * LIMIT + [429] * (60 - LIMIT)
    assert token_attempt(forwarded_for="198.51.100.7", password=PASSWORD) == 429  # even the right password


@pytest.mark.django_db
@pytest.mark.parametrize("path", FORMS)
def test_the_login_forms_are_throttled_too(dev_user, path):
    statuses = [form_attempt(path, forwarded_for=f"203.0.113.{n}") for n in range(LIMIT + 5)]
    assert statuses == [200] * LIMIT + [429] * 5  # the form again with an error, then 429
    response = Client().post(path, {"username": "dev1", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many login attempts" in response.content.decode()


@pytest.mark.django_db
def test_the_admin_login_is_throttled(admin_user):
    for _ in range(LIMIT):
        assert form_attempt("/admin/login/") == 200
    refused = Client().post("/admin/login/?next=/admin/", {"username": admin_user.username, "password": PASSWORD})
    assert refused.status_code == 429
    assert "Retry-After" in refused


@pytest.mark.django_db
def test_one_budget_for_the_token_endpoint_and_the_forms(dev_user):
    half = LIMIT // 2
    assert [token_attempt() for _ in range(half)] == [400] * half
    assert [form_attempt("/admin/login/") for _ in range(LIMIT - half)] == [200] * (LIMIT - half)
    assert form_attempt("/login/") == 429
    assert token_attempt() == 429


@pytest.mark.django_db
def test_showing_the_login_page_is_not_an_attempt(dev_user):
    client = Client()
    for _ in range(LIMIT + 5):
        assert client.get("/admin/login/").status_code == 200
        assert client.get("/login/").status_code == 200
    assert form_attempt("/login/", password=PASSWORD) == 302


@pytest.mark.django_db
def test_with_one_trusted_proxy_the_address_it_saw_counts(dev_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The proxy appends what it saw (198.51.100.1); whatever the client wrote before it is ignored.
    statuses = [token_attempt(forwarded_for=f"10.0.0.{n}, 198.51.100.1") for n in range(LIMIT + 1)]
    assert statuses == [400] * LIMIT + [429]
    assert form_attempt("/admin/login/", forwarded_for="198.51.100.1") == 429
    # Another client behind the same proxy has its own budget.
    assert token_attempt(forwarded_for="198.51.100.2") == 400
    assert form_attempt("/admin/login/", forwarded_for="198.51.100.2") == 200
    assert token_attempt(forwarded_for="198.51.100.2", password=PASSWORD) == 200


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "remote", "expected"),
    [
        (0, "203.0.113.9", "10.1.1.1", "10.1.1.1"),  # no trusted proxy: the header is ignored
        (0, None, "10.1.1.1", "10.1.1.1"),
        (1, "203.0.113.9", "10.1.1.1", "203.0.113.9"),
        (1, "1.2.3.4, 203.0.113.9", "10.1.1.1", "203.0.113.9"),  # the forged left part is ignored
        (1, " 1.2.3.4 ,  203.0.113.9 ", "10.1.1.1", "203.0.113.9"),
        (2, "1.2.3.4, 203.0.113.9, 10.0.0.2", "10.1.1.1", "203.0.113.9"),
        (2, "203.0.113.9", "10.1.1.1", "203.0.113.9"),  # fewer entries than proxies: the leftmost
        (1, None, "10.1.1.1", "10.1.1.1"),  # no header (a direct connection): its own address
        (1, "not-an-address", "10.1.1.1", "10.1.1.1"),
        (1, "2001:DB8::1", "10.1.1.1", "2001:db8::1"),
    ],
)
def test_client_address(settings, proxies, forwarded_for, remote, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    extra = {"REMOTE_ADDR": remote}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    assert client_address(RequestFactory().get("/", **extra)) == expected


def test_drf_uses_the_same_proxy_count(settings):
    from rest_framework.settings import api_settings

    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT
    assert api_settings.NUM_PROXIES == settings.TRUSTED_PROXY_COUNT


@pytest.mark.django_db
def test_logins_work_while_redis_is_unreachable(dev_user, settings, caplog):
    """The throttle fails open (with a warning) instead of answering 500 until Redis is back."""
    from cloudassist import embedded

    dead = f"redis://127.0.0.1:{embedded.free_port()}/0"  # nothing listens there
    settings.CACHES = {**settings.CACHES, "shared": {**settings.CACHES["shared"], "LOCATION": dead}}
    assert token_attempt(password=PASSWORD) == 200
    assert form_attempt("/login/", password=PASSWORD) == 302
    assert "Login throttle off" in caplog.text
