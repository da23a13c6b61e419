"""The API docs work offline, and the schema is tagged per app with readable summaries."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

CDN_HOSTS = ("fonts.googleapis.com", "fonts.gstatic.com", "cdn.redoc.ly", "cdn.jsdelivr.net", "unpkg.com")
APPS = {"templates", "provisioning", "quotas", "notifications", "configs", "users"}


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def _static_text(url: str) -> str:
    path = finders.find(url.split("/static/", 1)[1].split("?", 1)[0])
    assert path, url
    return Path(path).read_text(encoding="utf-8", errors="replace")


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_and_their_scripts_reference_no_external_host(page):
    client = APIClient()
    html = client.get(page).content.decode()
    for host in CDN_HOSTS:
        assert host not in html
    assets = _assets(html)
    assert assets
    for url in assets:
        assert not re.match(r"^(https?:)?//", url), url  # same origin only
        text = client.get(url).content.decode() if "/static/" not in url else _static_text(url)
        for host in (*CDN_HOSTS, "validator.swagger.io"):
            if host == "validator.swagger.io" and page == "/docs":
                continue  # in the bundle as the default, switched off below
            assert host not in text, (url, host)


@pytest.mark.django_db
def test_swagger_ui_does_not_call_the_online_validator():
    # The settings are in the init script, served apart from the page (no inline script: the CSP).
    script = APIClient().get("/docs?script=").content.decode()
    assert '"validatorUrl": null' in script


@pytest.mark.django_db
def test_operations_are_tagged_per_app_with_summaries():
    schema = APIClient().get("/api/schema/?format=json").json()
    tags = {tag["name"] for tag in schema["tags"]}
    assert tags >= APPS
    used = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["tags"] != ["api"], (method, path)
            assert operation.get("summary"), (method, path)
            used.update(operation["tags"])
    assert used >= APPS
    by_path = {(m.upper(), p): op for p, ops in schema["paths"].items() for m, op in ops.items()}
    assert by_path[("POST", "/api/v1/provision-requests/{id}/approve/")]["tags"] == ["provisioning"]
    assert by_path[("POST", "/api/v1/provision-requests/{id}/approve/")]["summary"] == "Approve a provision request"
    assert by_path[("GET", "/api/v1/templates/")]["summary"] == "List templates"
    assert by_path[("GET", "/api/v1/roles/")]["tags"] == ["users"]
    assert by_path[("POST", "/api/v1/extension-requests/")]["summary"] == "Create an extension request"
    assert by_path[("GET", "/api/v1/quotas/")]["tags"] == ["quotas"]
    assert by_path[("GET", "/api/v1/notifications/")]["tags"] == ["notifications"]
    assert by_path[("GET", "/api/v1/configs/")]["tags"] == ["configs"]
