"""Concurrent reviews against the real MongoDB: exactly one winner, a consistent audit trail."""

from __future__ import annotations

import pytest

from cloudassist.testing.concurrency import race
from provisioning import services
from provisioning.choices import ExtensionSlot, RequestStatus
from provisioning.models import Event, ExtensionRequest, ProvisionRequest


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_approvals_give_one_transition_one_event_one_job(make_request, make_user, provisioning_queue):
    request = make_request()
    reviewers = [make_user(f"ops{i}", "devops") for i in range(20)]

    outcomes = race(
        20,
        lambda i: services.approve_request(
            actor=reviewers[i], request=ProvisionRequest.objects.get(pk=request.pk), note=f"ok {i}"
        ),
    )

    assert outcomes == {"ok": 1, "InvalidTransition": 19}
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    approvals = list(Event.objects.filter(provision_request=request, action="approve"))
    assert len(approvals) == 1
    assert approvals[0].actor_id == request.reviewed_by_id
    assert approvals[0].note == request.review_note
    assert provisioning_queue.count == 1
    assert provisioning_queue.jobs[0].args == (str(request.pk),)


@pytest.mark.django_db(transaction=True)
def test_concurrent_approve_and_revoke_leave_one_consistent_winner(make_request, dev_user, devops_user):
    for _ in range(5):
        request = make_request()
        moves = [
            (services.approve_request, devops_user),
            (services.revoke_request, dev_user),
        ]

        def move(i, pk=request.pk, moves=moves):
            service, actor = moves[i]
            service(actor=actor, request=ProvisionRequest.objects.get(pk=pk))

        outcomes = race(2, move)
        request.refresh_from_db()
        trail = [(e.action, e.from_status, e.to_status) for e in Event.objects.filter(provision_request=request)]
        assert trail[0] == ("submit", "", "REQUESTED")
        # Either the revoke won outright, or the approval won and the revoke followed it (allowed from APPROVED).
        assert trail[1:] in (
            [("revoke", "REQUESTED", "REVOKED")],
            [("approve", "REQUESTED", "APPROVED")],
            [("approve", "REQUESTED", "APPROVED"), ("revoke", "APPROVED", "REVOKED")],
        )
        assert request.status == trail[-1][2]
        assert outcomes["ok"] == len(trail) - 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_extension_requests_leave_one_pending(live_request, dev_user):
    outcomes = race(
        10,
        lambda i: services.request_extension(
            actor=dev_user,
            request=ProvisionRequest.objects.get(pk=live_request.pk),
            extend_by_hours=i + 1,
            reason="demo",
        ),
    )
    assert outcomes == {"ok": 1, "Conflict": 9}
    assert ExtensionRequest.objects.filter(provision_request=live_request).count() == 1
    live_request.refresh_from_db()
    assert live_request.extension_slot == ExtensionSlot.PENDING
