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


def _served_schema() -> dict:
    return APIClient().get("/api/schema/?format=json").json()


ERROR_REF = {"$ref": "#/components/schemas/Error"}


@pytest.mark.django_db
def test_every_error_response_is_the_one_error_shape():
    schema = _served_schema()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if int(code) >= 400 and not path.startswith(("/health", "/ready")):
                    assert response["content"]["application/json"]["schema"] == ERROR_REF, (method, path, code)
                    assert response["description"], (method, path, code)


@pytest.mark.django_db
def test_each_operation_documents_the_errors_it_can_answer():
    paths = _served_schema()["paths"]
    codes = {(method.upper(), path): set(op["responses"]) for path, ops in paths.items() for method, op in ops.items()}
    # Every authenticated operation: bad input, a bad token, no permission, MongoDB unreachable.
    for key, documented in codes.items():
        if key[1] not in ("/health", "/ready"):
            assert {"400", "401", "403", "503"} <= documented or key == ("POST", "/api/v1/auth/token/"), key
    assert {"400", "429", "503"} <= codes[("POST", "/api/v1/auth/token/")]
    assert "403" not in codes[("POST", "/api/v1/auth/token/")]  # anyone may ask for a token
    assert "404" in codes[("GET", "/api/v1/templates/{id}/")]  # a path parameter
    assert "404" in codes[("GET", "/api/v1/templates/")]  # a page past the last
    assert "404" not in codes[("GET", "/api/v1/users/me/")]
    assert {"409", "413", "415"} <= codes[("POST", "/api/v1/templates/")]
    assert {"409", "412", "413", "415", "422"} <= codes[("PUT", "/configs/{name}/")]
    assert "409" in codes[("DELETE", "/api/v1/templates/{id}/")]
    assert "413" not in codes[("DELETE", "/api/v1/templates/{id}/")]
    assert codes[("GET", "/health")] == {"200", "400"}


@pytest.mark.django_db
def test_success_bodies_are_described_as_served():
    schema = _served_schema()
    paths, components = schema["paths"], schema["components"]["schemas"]

    def body(path, method="get", code="200"):
        return paths[path][method]["responses"][code]["content"]["application/json"]["schema"]

    # The config server's lists are paginated like every other list.
    for path in ("/configs/", "/api/v1/configs/", "/configs/{name}/versions/"):
        ref = body(path)["$ref"].rsplit("/", 1)[1]
        assert set(components[ref]["properties"]) == {"count", "next", "previous", "results"}, path
        assert {"page", "page_size"} <= {p["name"] for p in paths[path]["get"]["parameters"]}
    # A nullable relation is a nullable link; settings never saved have no updated_at yet.
    assert components["Template"]["properties"]["created_by"]["nullable"] is True
    assert components["ProvisionRequest"]["properties"]["reviewed_by"]["nullable"] is True
    assert components["NotificationSettings"]["properties"]["updated_at"]["nullable"] is True
