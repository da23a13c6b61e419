"""The MongoDB commands a create sends, pinned (no timing): the template and the prices come from
the process's caches, the quota is one aggregate, the reservation one conditional update that
answers the ledger, then the request, its audit event and the commit."""

import pytest
from rest_framework.test import APIClient

from cloudassist import changes
from cloudassist import services as core_services
from cloudassist.models import ApiToken
from provisioning.models import ProvisionRequest
from provisioning.tests.conftest import EKS_PARAMETERS
from quotas import services as quota_services
from quotas.models import Quota
from templates import services as template_services
from templates.models import Template

URL = "/api/v1/provision-requests/"
TOKENS = ApiToken._meta.db_table
EKS = {"template": "basic-eks-cluster", "parameters": EKS_PARAMETERS}


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {core_services.issue_token(user=user)[1]}")
    assert client.get("/api/v1/users/me/").status_code == 200
    return client


def _product(seen) -> list[dict]:
    """The create's own commands: not the token's (authentication is measured on its own), not the
    change feed's (its own thread)."""
    return [
        command
        for command in seen.commands
        if command["collection"] != TOKENS
        and command["name"] != "getMore"
        and not any("$changeStream" in stage for stage in command["pipeline"])
    ]


@pytest.fixture
def feed(db):
    assert changes.wait_started(), "the change feed did not start"


@pytest.mark.django_db
def test_a_create_sends_at_most_six_commands_including_the_commit(
    templates, dev_user, feed, mongo_commands, default_queue
):
    client = _token_client(dev_user)
    assert client.post(URL, EKS, format="json").status_code == 201  # fills the caches, creates the ledger
    with mongo_commands() as seen:
        response = client.post(URL, EKS, format="json")
    assert response.status_code == 201, response.json()
    sent = _product(seen)
    assert [f"{c['name']} {c['collection']}" for c in sent] == [
        "aggregate quotas_quota",
        "findAndModify quotas_usageledger",
        "insert provisioning_provisionrequest",
        "insert provisioning_event",
        "commitTransaction ",
    ]
    assert len(sent) <= 6
    reserve = sent[1]["command"]
    assert reserve.get("txnNumber") == sent[2]["command"].get("txnNumber") == sent[-1]["command"]["txnNumber"]
    assert all(stage.get("$lookup", {}).get("from") != "quotas_quota" for stage in sent[0]["pipeline"])


@pytest.mark.django_db
def test_the_first_request_of_a_user_creates_their_ledger(templates, dev_user, feed, default_queue):
    client = _token_client(dev_user)
    assert client.post(URL, EKS, format="json").status_code == 201
    assert quota_services.reserved(user=dev_user)["live_environments"] == 1


@pytest.mark.django_db
def test_the_limit_is_in_the_reservations_filter(templates, dev_user, feed, mongo_commands, default_queue):
    Quota.objects.create(user=dev_user, max_live_environments=1)
    client = _token_client(dev_user)
    assert client.post(URL, EKS, format="json").status_code == 201
    with mongo_commands() as seen:
        response = client.post(URL, EKS, format="json")
    assert response.status_code == 409, response.json()
    assert response.json()["quota"]["live_environments"]["reserved"] == "1"
    reserve = seen.one("findAndModify", "quotas_usageledger")["command"]
    assert reserve["query"]["live_environments"] == {"$lte": 0}
    assert ProvisionRequest.objects.count() == 1
    assert not seen.named("commitTransaction")


@pytest.mark.django_db
def test_a_role_quota_applies_from_the_one_aggregate(templates, dev_user, feed, default_queue):
    from django.contrib.auth.models import Group

    Quota.objects.create(role=Group.objects.get(name="dev"), max_live_environments=1)
    client = _token_client(dev_user)
    assert client.post(URL, EKS, format="json").status_code == 201
    response = client.post(URL, EKS, format="json")
    assert response.status_code == 409
    assert response.json()["quota_source"] == "role:dev"


@pytest.mark.django_db
def test_a_changed_template_is_never_served_stale_by_the_worker_that_changed_it(
    templates, dev_user, feed, default_queue
):
    client = _token_client(dev_user)
    assert client.post(URL, EKS, format="json").json()["template_version"] == 1
    template = Template.objects.get(pk="basic-eks-cluster")
    template_services.update_template(template=template, body=template.body + "\n")
    assert client.post(URL, EKS, format="json").json()["template_version"] == 2
    template_services.set_active(template=template, active=False)
    assert client.post(URL, EKS, format="json").status_code == 400
