"""The browsable API, used by hand: forms with the writable fields, CSRF, Extra Actions."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from conftest import PASSWORD
from provisioning.choices import RequestStatus
from provisioning.models import ProvisionRequest
from provisioning.tests.conftest import EKS_PARAMETERS

URL = "/api/v1/provision-requests/"
HTML = {"HTTP_ACCEPT": "text/html"}


def _logged_in(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _csrf(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def _extra_actions(page: str) -> list[str]:
    menu = page.split("Extra Actions", 1)[1].split("</ul>", 1)[0] if "Extra Actions" in page else ""
    return re.findall(r'<a href="[^"]+">\s*([^<]+?)\s*</a>', menu)


@pytest.mark.django_db
def test_the_create_form_shows_the_writable_fields_with_an_example_and_posts_with_csrf(eks, dev_user):
    client = _logged_in(dev_user)
    page = client.get(URL, **HTML).content.decode()
    form = page.split('id="post-object-form"', 1)[1].split("</form>", 1)[0]
    for name in ("template", "parameters", "description", "request_type", "expires_at"):
        assert f'name="{name}"' in form
    assert "cluster_name" in form  # the example parameters of a template

    response = client.post(
        URL,
        {
            "csrfmiddlewaretoken": _csrf(page),
            "template": "basic-eks-cluster",
            "parameters": json.dumps(EKS_PARAMETERS),
            "description": "by hand",
            "request_type": "TEMPORARY",
            "expires_at": "",
        },
        **HTML,
    )
    assert response.status_code == 201, response.content.decode()[:2000]
    assert ProvisionRequest.objects.get(description="by hand").parameters["cluster_name"] == "team-a-dev"


@pytest.mark.django_db
def test_csrf_is_still_enforced_and_unknown_form_fields_are_still_refused(eks, dev_user):
    client = _logged_in(dev_user)
    page = client.get(URL, **HTML).content.decode()
    body = {"template": "basic-eks-cluster", "parameters": json.dumps(EKS_PARAMETERS)}
    assert client.post(URL, body, **HTML).status_code == 403  # no token
    response = client.post(
        URL, {**body, "csrfmiddlewaretoken": _csrf(page), "colour": "red"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert "colour" in response.json()["fields"]
    assert "csrfmiddlewaretoken" not in response.json()["fields"]


@pytest.mark.django_db
def test_a_json_body_naming_csrfmiddlewaretoken_is_still_an_unknown_field(eks, dev_client):
    body = {"template": "basic-eks-cluster", "parameters": EKS_PARAMETERS, "csrfmiddlewaretoken": "x"}
    response = dev_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert "csrfmiddlewaretoken" in response.json()["fields"]


@pytest.mark.django_db
def test_the_render_form_asks_for_parameters(eks, dev_user):
    client = _logged_in(dev_user)
    page = client.get("/api/v1/templates/basic-eks-cluster/render/", **HTML).content.decode()
    form = page.split('id="post-object-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="parameters"' in form
    assert "cluster_name" in form
    assert 'name="body"' not in form
    assert 'name="parameters_schema"' not in form
    response = client.post(
        "/api/v1/templates/basic-eks-cluster/render/",
        {"csrfmiddlewaretoken": _csrf(page), "parameters": json.dumps(EKS_PARAMETERS)},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200, response.content
    assert "team-a-dev" in response.json()["document"]


@pytest.mark.django_db
def test_the_note_forms_ask_for_a_note(make_request, devops_user):
    request = make_request()
    page = _logged_in(devops_user).get(f"{URL}{request.pk}/approve/", **HTML).content.decode()
    form = page.split('id="post-object-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="note"' in form


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "status", "shown", "hidden"),
    [
        ("dev", RequestStatus.REQUESTED, {"Revoke"}, {"Approve", "Reject", "Purge", "Retry", "Mark cleaned up"}),
        ("dev", RequestStatus.DEPLOYED, {"Purge"}, {"Approve", "Reject", "Revoke", "Retry"}),
        ("devops", RequestStatus.REQUESTED, {"Approve", "Reject"}, {"Revoke", "Purge", "Retry"}),
        ("devops", RequestStatus.PURGE_FAILED, {"Purge", "Mark cleaned up"}, {"Approve", "Reject", "Revoke"}),
    ],
)
def test_extra_actions_list_only_what_the_user_may_do_now(
    make_request, dev_user, devops_user, who, status, shown, hidden
):
    request = make_request(status=status)
    user = dev_user if who == "dev" else devops_user
    page = _logged_in(user).get(f"{URL}{request.pk}/", **HTML).content.decode()
    listed = set(_extra_actions(page))
    assert shown <= listed, listed
    assert not (hidden & listed), listed
    assert "Events" in listed  # read-only actions stay
