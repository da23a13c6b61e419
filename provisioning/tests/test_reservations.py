"""provisioning/services/reservations.py and the submission's reservation: the ledger equals what
the requests holding a reservation add up to, through elections, failures and hand edits."""

from __future__ import annotations

import logging

import pytest
from django.core.management import call_command
from prometheus_client import REGISTRY

from cloudassist import db
from cloudassist.testing.failpoints import fail_command
from provisioning import provisioner
from provisioning.models import ProvisionRequest
from provisioning.services import reservations
from provisioning.tests.conftest import namespace_request_body
from quotas import services as quota_services
from quotas.choices import ReservationState
from quotas.models import UsageLedger

URL = "/api/v1/provision-requests/"
NOTHING = dict.fromkeys(quota_services.LEDGER_FIELDS, 0)


def ledger(user) -> dict[str, int]:
    return quota_services.reserved(user=user)


def corrections(field: str) -> float:
    return REGISTRY.get_sample_value("cloudassist_quota_ledger_corrections_total", {"field": field}) or 0.0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "failure",
    [{"errorCode": 189, "errorLabels": ["TransientTransactionError"]}, {"errorCode": 11602}, {"closeConnection": True}],
    ids=["not-primary", "interrupted", "connection-dropped"],
)
def test_a_submission_survives_an_election(dev_client, dev_user, templates, failure):
    quota_services.ledger_for(dev_user)
    with fail_command(["insert"], times=1, **failure):
        response = dev_client.post(URL, namespace_request_body(), format="json")
    assert response.status_code == 201, response.content
    requests = list(ProvisionRequest.objects.filter(requested_by=dev_user))
    assert len(requests) == 1
    assert ledger(dev_user) == requests[0].reservation


@pytest.mark.django_db(transaction=True)
def test_a_failure_between_the_reservation_and_the_request_leaves_the_ledger_as_it_was(
    dev_client, dev_user, templates, monkeypatch, caplog
):
    """The insert keeps failing (an election that outlasts MONGODB_TIMEOUT_MS): a 503 with
    Retry-After naming the error in the log, no request, and nothing reserved."""
    monkeypatch.setattr(db, "retry_budget", lambda using="default": 0.3)
    quota_services.ledger_for(dev_user)
    # After the first write (a reservation taken on its own, once) every insert and update fails:
    # the compensating release of such a reservation failed too, and leaked it for good.
    failing = fail_command(["insert", "update"], times=None, skip=1, errorCode=189)
    with caplog.at_level(logging.WARNING), failing:
        response = dev_client.post(URL, namespace_request_body(), format="json")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert not ProvisionRequest.objects.filter(requested_by=dev_user).exists()
    assert ledger(dev_user) == NOTHING
    logged = [record.getMessage() for record in caplog.records if "MongoDB unreachable" in record.getMessage()]
    assert logged
    assert "NotPrimaryError: Failing command" in logged[0]  # the class and message, not an empty string


@pytest.mark.django_db(transaction=True)
def test_reconcile_quotas_sets_a_corrupted_ledger_back_and_counts_it(
    dev_client, dev_user, other_dev, templates, caplog
):
    assert dev_client.post(URL, namespace_request_body(), format="json").status_code == 201
    held = ProvisionRequest.objects.get(requested_by=dev_user).reservation
    UsageLedger.objects.filter(user=dev_user).update(live_environments=7, usd_micros=held["usd_micros"] + 123)
    UsageLedger.objects.create(user=other_dev, live_environments=2)  # holds nothing
    before = {field: corrections(field) for field in ("live_environments", "usd_micros", "machine_hours_micros")}

    with caplog.at_level(logging.WARNING):
        call_command("reconcile_quotas")

    assert ledger(dev_user) == held
    assert ledger(other_dev) == NOTHING
    assert corrections("live_environments") == before["live_environments"] + 2  # both ledgers
    assert corrections("usd_micros") == before["usd_micros"] + 1
    assert corrections("machine_hours_micros") == before["machine_hours_micros"]
    logged = [record.getMessage() for record in caplog.records if "quota ledger" in record.getMessage()]
    assert len(logged) == 2
    assert any("live_environments 7 -> 1" in line and str(dev_user.pk) in line for line in logged)
    assert reservations.reconcile_ledgers()["ledgers_corrected"] == 0  # nothing left to correct


@pytest.mark.django_db
def test_the_sweep_reconciles_the_ledgers(make_request, dev_user):
    request = make_request()
    # Released by hand, the ledger not told.
    ProvisionRequest.objects.filter(pk=request.pk).update(reservation_state=ReservationState.RELEASED)
    counts = provisioner.sweep()
    assert counts["ledgers_corrected"] == 1
    assert ledger(dev_user) == NOTHING
