import pytest
from django.core.management import call_command
from openapi_spec_validator import validate
from rest_framework.test import APIClient


@pytest.mark.django_db
def test_schema_generation_emits_no_warnings(tmp_path):
    # --fail-on-warn turns every drf-spectacular warning (and error) into a failure.
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/schema/?format=json", "/api-docs?format=json"])
def test_served_schema_is_valid_openapi_3(path):
    response = APIClient().get(path)
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert schema["openapi"].startswith("3.")
    for expected in ("/api/v1/users/me/", "/api/v1/templates/{id}/render/", "/api/v1/auth/token/", "/ready"):
        assert expected in schema["paths"]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "marker"), [("/docs", "swagger-ui"), ("/redoc", "redoc")])
def test_docs_pages_use_self_hosted_assets(path, marker):
    html = APIClient().get(path).content.decode()
    assert marker in html
    assert "cdn.jsdelivr.net" not in html
