"""A body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 naming the limit, on every API, never a 500."""

import json

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [("put", "/api/v1/configs/too-big"), ("put", "/configs/too-big"), ("post", "/api/v1/provision-requests/")],
)
def test_a_body_over_the_limit_is_a_413_naming_it(admin_client_api, settings, method, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"data": {"blob": "x" * 20_000}})
    response = getattr(admin_client_api, method)(path, body, content_type="application/json")
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "too_large"
    assert "10000 bytes" in response.json()["error"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/auth/token/"),
        ("put", "/api/v1/configs/deep"),
        ("post", "/api/v1/estimates/"),
        ("patch", "/api/v1/users/me/notification-settings/"),
    ],
)
def test_json_nested_too_deeply_is_a_400(admin_client_api, method, path):
    body = "[" * 100_000 + "]" * 100_000
    response = getattr(admin_client_api, method)(path, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "nested too deeply" in response.json()["error"]
