"""Kubeconfig and credentials delivery, and purge through the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from provisioning import jobs, services
from provisioning.choices import RequestStatus
from provisioning.models import Event
from provisioning.tests.conftest import use_provider

URL = "/api/v1/provision-requests/"
SECRET = "noop credentials for"


@pytest.fixture
def deployed(make_request, devops_user, provisioning_queue):
    request = use_provider(make_request(), "noop")
    services.approve_request(actor=devops_user, request=request)
    assert jobs.provision(str(request.pk)) == "deployed"
    provisioning_queue.empty()
    return request


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_requester_and_devops_download_and_each_download_is_audited(deployed, dev_user, devops_user, other_dev):
    for user in (dev_user, devops_user):
        response = _client(user).get(f"{URL}{deployed.pk}/credentials/")
        assert response.status_code == 200
        assert response.content.decode().startswith(SECRET)
        assert response["Content-Disposition"] == f'attachment; filename="credentials-{deployed.pk}.txt"'
        assert response["Cache-Control"] == "no-store"
    downloads = Event.objects.filter(provision_request=deployed, action="download_credentials")
    assert [event.actor_name for event in downloads] == ["dev1", "ops1"]
    assert all(SECRET not in (event.note + str(event.data)) for event in Event.objects.all())
    assert _client(other_dev).get(f"{URL}{deployed.pk}/credentials/").status_code == 404


@pytest.mark.django_db
def test_the_secret_never_appears_in_list_detail_or_events(deployed, dev_user):
    client = _client(dev_user)
    for path in (URL, f"{URL}{deployed.pk}/", f"{URL}{deployed.pk}/events/", f"{URL}?expand=template"):
        assert SECRET not in client.get(path).content.decode()


@pytest.mark.django_db
def test_wrong_kind_or_nothing_yet_is_a_404_that_says_why(deployed, make_request, dev_user):
    client = _client(dev_user)
    wrong = client.get(f"{URL}{deployed.pk}/kubeconfig/")
    assert wrong.status_code == 404
    assert "credentials" in wrong.json()["error"]
    pending = make_request()
    nothing = client.get(f"{URL}{pending.pk}/kubeconfig/")
    assert nothing.status_code == 404
    assert "REQUESTED" in nothing.json()["error"]


@pytest.mark.django_db
def test_requester_or_devops_purge_and_the_job_finishes_it(deployed, dev_user, other_dev, provisioning_queue):
    assert _client(other_dev).post(f"{URL}{deployed.pk}/purge/", {}, format="json").status_code == 404
    response = _client(dev_user).post(f"{URL}{deployed.pk}/purge/", {"note": "done with it"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == RequestStatus.PURGE_INITIATED
    assert [job.id for job in provisioning_queue.jobs] == [f"purge-{deployed.pk}"]
    assert jobs.purge(str(deployed.pk)) == "purged"
    again = _client(dev_user).post(f"{URL}{deployed.pk}/purge/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["current_status"] == "PURGED"
    assert _client(dev_user).get(f"{URL}{deployed.pk}/credentials/").status_code == 404
