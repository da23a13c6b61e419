import pytest
from rest_framework.test import APIClient

from cloudassist.api.errors import flatten


def test_flatten_uses_dotted_paths():
    detail = {"parameters": {"region": ["bad"]}, "items": [{}, {"name": ["missing"]}], "non_field_errors": ["x"]}
    assert flatten(detail) == {"parameters.region": ["bad"], "items.1.name": ["missing"], "non_field_errors": ["x"]}


@pytest.mark.django_db
def test_unknown_url_is_a_json_404(dev_client):
    response = dev_client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found", "code": "not_found", "status": 404}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/provision-requests/0.5/", "/configs/%C2%84/", "/api/v1/nothing-here/"])
def test_unknown_url_is_a_json_404_with_debug_on_too(dev_client, settings, path):
    # `make run` serves with DEBUG on: Django's HTML debug page is not what the OpenAPI documents.
    settings.DEBUG = True
    response = dev_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Not found", "code": "not_found", "status": 404}


@pytest.mark.django_db
def test_debug_pages_stay_for_html_paths(client, settings):
    settings.DEBUG = True
    response = client.get("/portal/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_method_not_allowed_has_the_same_shape(dev_client):
    response = dev_client.delete("/api/v1/users/me/")  # me takes GET and PATCH only
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.json()["status"] == 405


@pytest.mark.django_db
def test_malformed_json_is_a_400(dev_client):
    response = dev_client.generic("POST", "/api/v1/auth/token/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


GARBAGE = ['"text"', "[]", "null", "123", "[1, {}]", '{"parameters": "x"}', '{"username": {"$ne": 1}}']
POST_ENDPOINTS = [
    "/api/v1/auth/token/",
    "/api/v1/users/",
    "/api/v1/roles/",
    "/api/v1/templates/",
    "/api/v1/templates/basic-eks-cluster/render/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("payload", GARBAGE)
@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_garbage_input_never_yields_a_500(admin_client_api, path, payload):
    from cloudassist.seed import seed_demo

    seed_demo(password="irrelevant-password")
    response = admin_client_api.generic("POST", path, payload, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    assert set(response.json()) >= {"error", "code", "status"}


@pytest.mark.django_db
def test_anonymous_garbage_is_still_a_clean_401():
    response = APIClient().generic("PUT", "/api/v1/templates/x/", "[]", content_type="application/json")
    assert response.status_code == 401


def test_unexpected_exceptions_become_a_json_500_without_details(caplog):
    from cloudassist.api.errors import exception_handler

    response = exception_handler(RuntimeError("secret connection string"), {})
    assert response.status_code == 500
    assert response.data == {"error": "Internal server error", "code": "server_error", "status": 500}
    assert "Unhandled error" in caplog.text


def test_integrity_errors_become_a_409_naming_the_duplicate():
    from django.db import IntegrityError
    from pymongo.errors import DuplicateKeyError

    from cloudassist.api.errors import exception_handler

    error = IntegrityError()
    error.__cause__ = DuplicateKeyError("E11000", 11000, {"keyValue": {"name": "dev"}})
    response = exception_handler(error, {})
    assert response.status_code == 409
    assert response.data["error"] == "An object with name='dev' already exists."


def test_a_503_log_line_names_the_exception_class_and_message_of_the_cause(caplog):
    # The backend wraps the driver's error in a DatabaseError whose own message is empty.
    from django.db import DatabaseError
    from pymongo.errors import ServerSelectionTimeoutError

    from cloudassist.api.errors import exception_handler

    error = DatabaseError()
    error.__cause__ = ServerSelectionTimeoutError("127.0.0.1:1: connection refused")
    response = exception_handler(error, {})
    assert response.status_code == 503
    assert "ServerSelectionTimeoutError: 127.0.0.1:1: connection refused" in caplog.text  # the driver's error
    assert "MongoDB unreachable: DatabaseError <- " in caplog.text  # and what wrapped it


def test_a_503_log_line_names_the_exception_class_when_the_message_is_empty(caplog):
    from pymongo.errors import AutoReconnect

    from cloudassist.api.errors import exception_handler

    response = exception_handler(AutoReconnect(""), {})
    assert response.status_code == 503
    assert "MongoDB unreachable: AutoReconnect" in caplog.text
