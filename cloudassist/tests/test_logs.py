"""Structured logs: JSON lines with the request id and user id, which follow the jobs a
request enqueues; secrets never appear."""

from __future__ import annotations

import json
import logging

import django_rq
import pytest
from rq import SimpleWorker

from cloudassist.logs import ContextFilter, JsonFormatter, request_id
from provisioning.models import ProvisionRequest
from provisioning.tests.conftest import use_provider


def _record(message: str = "hello", **extra) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "cloudassist.test", "levelname": "INFO", "levelno": 20, "msg": message})
    for key, value in extra.items():
        setattr(record, key, value)
    ContextFilter().filter(record)
    return record


def test_json_lines_carry_the_context_and_redact_secret_fields():
    token = request_id.set("req-12345678")
    try:
        line = JsonFormatter().format(_record("approved %s", cluster="c1", password="hunter2", kubeconfig="k"))
    finally:
        request_id.reset(token)
    body = json.loads(line)
    assert body["level"] == "INFO"
    assert body["logger"] == "cloudassist.test"
    assert body["request_id"] == "req-12345678"
    assert body["timestamp"].endswith("+00:00")
    assert body["cluster"] == "c1"
    assert body["password"] == body["kubeconfig"] == "[redacted]"
    assert "hunter2" not in line


@pytest.mark.django_db
def test_the_request_id_is_echoed_or_made_up(dev_client):
    given = dev_client.get("/api/v1/templates/", HTTP_X_REQUEST_ID="abcdef0123456789")
    assert given["X-Request-ID"] == "abcdef0123456789"
    made_up = dev_client.get("/api/v1/templates/", HTTP_X_REQUEST_ID="<script>")
    assert made_up["X-Request-ID"] != "<script>"
    assert len(made_up["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_request_logs_carry_request_and_user_ids(make_request, devops_client, devops_user, caplog):
    request = make_request()
    devops_client.post(f"/api/v1/provision-requests/{request.pk}/approve/", {}, format="json")
    caplog.handler.addFilter(ContextFilter())
    again = devops_client.post(
        f"/api/v1/provision-requests/{request.pk}/approve/", {}, format="json", HTTP_X_REQUEST_ID="trace-0001-again"
    )
    assert again.status_code == 409
    (conflict,) = [r for r in caplog.records if r.name == "django.request" and "Conflict" in r.getMessage()]
    assert (conflict.request_id, conflict.user_id) == ("trace-0001-again", str(devops_user.pk))


@pytest.mark.django_db
def test_jobs_log_with_the_id_of_the_request_that_enqueued_them(make_request, devops_client, caplog):
    queue = django_rq.get_queue("provisioning")
    queue.empty()
    request = make_request()
    use_provider(request, "noop")
    approved = devops_client.post(
        f"/api/v1/provision-requests/{request.pk}/approve/", {}, format="json", HTTP_X_REQUEST_ID="trace-approve-42"
    )
    assert approved.status_code == 200
    (job,) = queue.jobs
    assert job.meta["request_id"] == "trace-approve-42"
    caplog.handler.addFilter(ContextFilter())
    caplog.set_level(logging.INFO, logger="provisioning")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    (deployed,) = [r for r in caplog.records if "deployed by noop" in r.getMessage()]
    assert deployed.request_id == "trace-approve-42"
    assert ProvisionRequest.objects.get(pk=request.pk).status == "DEPLOYED"


@pytest.mark.django_db
def test_no_password_or_token_reaches_a_log_during_logins_and_token_use(dev_user, devops_user):
    from django.test import Client
    from rest_framework.test import APIClient

    from cloudassist.testing.logcapture import capture_logs
    from conftest import PASSWORD

    wrong = "Wr0ng-but-secret-passw0rd"
    forged = "f" * 40
    with capture_logs() as logs:
        api = APIClient()
        assert api.post("/api/v1/auth/token/", {"username": "dev1", "password": wrong}).status_code == 400
        response = api.post("/api/v1/auth/token/", {"username": "dev1", "password": PASSWORD})
        token = response.json()["token"]
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api.get("/api/v1/users/me/").status_code == 200
        assert api.get("/api/v1/no-such-endpoint/").status_code == 404  # logged as "Not Found"
        assert api.post("/api/v1/users/", {"password": wrong}).status_code == 403  # logged as "Forbidden"
        api.credentials(HTTP_AUTHORIZATION=f"Token {forged}")
        assert api.get("/api/v1/users/me/").status_code == 401
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
        assert api.get(f"/api/v1/templates/?token={forged}").status_code == 401
        browser = Client()
        assert browser.post("/login/", {"username": "dev1", "password": wrong}).status_code == 200
        reviewer = devops_user.username
        assert browser.post("/admin/login/", {"username": reviewer, "password": wrong}).status_code == 200
        assert browser.post("/admin/login/", {"username": reviewer, "password": PASSWORD}).status_code == 302
        assert browser.post("/api-auth/login/", {"username": "dev1", "password": wrong}).status_code == 200

    text = logs.text()
    assert "Bad Request: /api/v1/auth/token/" in text  # the capture works: the failed login is logged
    assert "Unauthorized: /api/v1/users/me/" in text
    for secret in (PASSWORD, wrong, token, forged):
        assert secret not in text
    assert "Authorization" not in text
    assert "HTTP_AUTHORIZATION" not in text
