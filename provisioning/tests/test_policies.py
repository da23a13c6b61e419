"""The approval and lifecycle policy (provisioning/policies.py) and the services that apply it:
review deadline, lease cap, grace before purge, four-eyes approval."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cloudassist.exceptions import Conflict
from cloudassist.testing.concurrency import race
from notifications.choices import Kind
from notifications.models import Notification
from provisioning import jobs, provisioner, services
from provisioning.choices import ExtensionSlot, RequestStatus
from provisioning.models import Event, ProvisionRequest
from provisioning.policies import Policy
from provisioning.tests.conftest import use_provider
from provisioning.transitions import InvalidTransition
from quotas.choices import ReservationState
from templates.models import Template


def _set_policy(template: Template, **values) -> Template:
    for name, value in values.items():
        setattr(template, name, value)
    template.save(update_fields=list(values))
    return template


def _use_noop(request: ProvisionRequest) -> ProvisionRequest:
    """Let the noop provider purge it (no cloud account in these tests)."""
    return use_provider(request, "noop")


# --- the policy itself --------------------------------------------------------------------------


def test_policy_answers_from_its_values():
    now = timezone.now()
    policy = Policy(review_timeout_hours=10, max_lifetime_hours=168, purge_grace_hours=6)
    assert policy.review_deadline(created_at=now, expires_at=now + timedelta(hours=4)) == now + timedelta(hours=4)
    assert policy.review_deadline(created_at=now, expires_at=None) == now + timedelta(hours=10)
    assert (policy.lease_cap_hours, policy.lease_cap_field) == (168, "max_lifetime_hours")
    assert policy.largest_extension_hours(created_at=now, expires_at=now + timedelta(hours=167)) == 1
    assert policy.purge_after(expired_at=now) == now + timedelta(hours=6)
    capped = Policy(max_lifetime_hours=168, max_total_lifetime_hours=336)
    assert (capped.lease_cap_hours, capped.lease_cap_field) == (336, "max_total_lifetime_hours")
    four_eyes = Policy(required_approvals=2, required_approvals_above_usd=Decimal("50"))
    assert four_eyes.approvals_needed(usd=Decimal("49.99")) == 1
    assert four_eyes.approvals_needed(usd=Decimal("50.01")) == 2
    assert Policy(required_approvals=2).approvals_needed(usd=Decimal("0")) == 2


@pytest.mark.django_db
def test_submission_snapshots_the_policy_and_sets_approvals_and_deadline(make_request, eks):
    _set_policy(eks, required_approvals=3, review_timeout_hours=5)
    request = make_request(expires_at=timezone.now() + timedelta(hours=48))
    assert request.required_approvals == 3
    assert abs(request.review_deadline - (request.created_at + timedelta(hours=5))) < timedelta(seconds=5)
    _set_policy(eks, required_approvals=1, review_timeout_hours=72)  # later changes do not apply to it
    assert Policy.of_request(ProvisionRequest.objects.get(pk=request.pk)).required_approvals == 3


@pytest.mark.django_db
def test_required_approvals_apply_only_above_the_usd_threshold(make_request, eks):
    _set_policy(eks, required_approvals=2, required_approvals_above_usd=Decimal("1000000"))
    assert make_request().required_approvals == 1
    _set_policy(eks, required_approvals_above_usd=Decimal("0.01"))
    assert make_request().required_approvals == 2


# --- 2. review deadline -------------------------------------------------------------------------


@pytest.mark.django_db
def test_sweep_times_out_stale_requests_releases_and_notifies(make_request, eks, devops_user, dev_user):
    _set_policy(eks, review_timeout_hours=4)
    waited = make_request(expires_at=timezone.now() + timedelta(hours=48))
    expiring = make_request(expires_at=timezone.now() + timedelta(hours=2))
    fresh = make_request(expires_at=timezone.now() + timedelta(hours=48))
    now = timezone.now()
    ProvisionRequest.objects.filter(pk=fresh.pk).update(review_deadline=now + timedelta(hours=4))

    assert provisioner.sweep(now=now + timedelta(hours=3))["timed_out"] == 1  # the one past its expiry
    assert ProvisionRequest.objects.get(pk=expiring.pk).status == RequestStatus.TIMED_OUT
    assert provisioner.sweep(now=now + timedelta(hours=4, minutes=1))["timed_out"] == 2
    for request, why in ((waited, "review window of 4 hours"), (expiring, "before its expiry")):
        request.refresh_from_db()
        assert request.status == RequestStatus.TIMED_OUT
        assert request.reservation_state == ReservationState.RELEASED
        event = Event.objects.get(provision_request=request, action="time_out")
        assert (event.from_status, event.to_status, event.actor_name) == ("REQUESTED", "TIMED_OUT", "system")
        assert why in event.note
    recipients = set(
        Notification.objects.filter(kind=Kind.REQUEST_TIMED_OUT, provision_request=waited).values_list(
            "recipient__username", flat=True
        )
    )
    assert recipients == {dev_user.username, devops_user.username}
    assert provisioner.sweep(now=now + timedelta(hours=5))["timed_out"] == 0  # terminal, once


@pytest.mark.django_db
def test_approval_refuses_after_the_review_window_or_with_too_little_lifetime(make_request, devops_user, settings):
    late = make_request()
    ProvisionRequest.objects.filter(pk=late.pk).update(created_at=timezone.now() - timedelta(hours=73))
    late.refresh_from_db()
    with pytest.raises(Conflict) as refused:
        services.approve_request(actor=devops_user, request=late)
    assert refused.value.code == "review_window_passed"
    assert "review_timeout_hours" in refused.value.message

    settings.MIN_USEFUL_LIFETIME_MINUTES = 60
    short = make_request(expires_at=timezone.now() + timedelta(minutes=50))
    with pytest.raises(Conflict) as refused:
        services.approve_request(actor=devops_user, request=short)
    assert refused.value.code == "too_little_lifetime_left"
    assert "MIN_USEFUL_LIFETIME_MINUTES" in refused.value.message
    assert ProvisionRequest.objects.get(pk=short.pk).status == RequestStatus.REQUESTED


@pytest.mark.django_db
def test_api_approval_with_too_little_lifetime_is_a_409_naming_it(make_request, devops_client):
    short = make_request(expires_at=timezone.now() + timedelta(minutes=30))
    response = devops_client.post(f"/api/v1/provision-requests/{short.pk}/approve/", {}, format="json")
    assert response.status_code == 409, response.content
    assert "MIN_USEFUL_LIFETIME_MINUTES" in response.json()["error"]


# --- 3. lease cap -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_extension_past_the_lease_cap_is_refused_naming_cap_and_largest(make_request, dev_user):
    request = make_request(status=RequestStatus.DEPLOYED, expires_at=timezone.now() + timedelta(hours=167))
    with pytest.raises(ValidationError) as refused:
        services.request_extension(actor=dev_user, request=request, extend_by_hours=720, reason="more")
    message = refused.value.message_dict["extend_by_hours"][0]
    assert "168 hours" in message
    assert "max_lifetime_hours" in message
    assert "at most 1 hour " in message
    assert ProvisionRequest.objects.get(pk=request.pk).extension_slot == ExtensionSlot.AVAILABLE
    extension = services.request_extension(actor=dev_user, request=request, extend_by_hours=1, reason="one more")
    assert extension.extend_by_hours == 1


@pytest.mark.django_db
def test_max_total_lifetime_raises_the_cap(make_request, eks, dev_user, devops_user):
    _set_policy(eks, max_total_lifetime_hours=336)
    request = make_request(status=RequestStatus.DEPLOYED, expires_at=timezone.now() + timedelta(hours=167))
    with pytest.raises(ValidationError) as refused:
        services.request_extension(actor=dev_user, request=request, extend_by_hours=200, reason="more")
    assert "max_total_lifetime_hours" in refused.value.message_dict["extend_by_hours"][0]
    extension = services.request_extension(actor=dev_user, request=request, extend_by_hours=168, reason="two weeks")
    services.approve_extension(actor=devops_user, extension=extension)
    request.refresh_from_db()
    assert request.expires_at - request.created_at <= timedelta(hours=336)


@pytest.mark.django_db
def test_api_extension_past_the_cap_is_a_400(make_request, dev_client):
    request = make_request(status=RequestStatus.DEPLOYED, expires_at=timezone.now() + timedelta(hours=167))
    response = dev_client.post(
        "/api/v1/extension-requests/",
        {"provision_request": str(request.pk), "extend_by_hours": 720, "reason": "a month"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "extend_by_hours" in str(response.json())
    assert "at most 1 hour " in str(response.json())


# --- 4. grace before purge ----------------------------------------------------------------------


@pytest.mark.django_db
def test_no_grace_purges_at_expiry_as_before(make_request, provisioning_queue):
    request = make_request(status=RequestStatus.DEPLOYED, expires_at=timezone.now() + timedelta(hours=2))
    provisioning_queue.empty()
    assert provisioner.expire_due(now=timezone.now() + timedelta(hours=3)) == 1
    request.refresh_from_db()
    assert request.status == RequestStatus.EXPIRED
    assert request.purge_after is not None
    assert [job.id for job in provisioning_queue.jobs] == [f"purge-{request.pk}"]


@pytest.mark.django_db
def test_grace_keeps_the_environment_then_the_sweep_purges_it(make_request, eks, dev_user, provisioning_queue):
    _set_policy(eks, purge_grace_hours=12)
    request = make_request(status=RequestStatus.DEPLOYED, expires_at=timezone.now() + timedelta(hours=2))
    provisioning_queue.empty()
    services.expire(request=request)
    request.refresh_from_db()
    assert request.status == RequestStatus.EXPIRED
    assert timedelta(hours=11, minutes=59) < request.purge_after - timezone.now() <= timedelta(hours=12)
    assert provisioning_queue.count == 0
    told = Notification.objects.get(kind=Kind.EXPIRED, provision_request=request)
    assert "DevOps can still extend" in told.body

    with pytest.raises(InvalidTransition) as refused:  # the requester's own extension is over
        services.request_extension(actor=dev_user, request=request, extend_by_hours=2, reason="x")
    assert "DevOps can still extend" in refused.value.message

    assert provisioner.purge_due(now=timezone.now() + timedelta(hours=11)) == 0
    assert provisioner.sweep(now=request.purge_after + timedelta(minutes=1))["purged_after_grace"] == 1
    assert [job.id for job in provisioning_queue.jobs] == [f"purge-{request.pk}"]
    _use_noop(request)
    assert jobs.purge(str(request.pk)) == "purged"


@pytest.mark.django_db
def test_devops_extend_an_expired_environment_during_grace(make_request, eks, dev_user, devops_user):
    _set_policy(eks, purge_grace_hours=12, max_total_lifetime_hours=100)
    request = make_request(status=RequestStatus.DEPLOYED, expires_at=timezone.now() + timedelta(hours=2))
    services.expire(request=request)
    request.refresh_from_db()

    with pytest.raises(PermissionDenied):
        services.extend_expired(actor=dev_user, request=request, extend_by_hours=4)
    with pytest.raises(ValidationError) as refused:
        services.extend_expired(actor=devops_user, request=request, extend_by_hours=200)
    assert "max_total_lifetime_hours" in refused.value.message_dict["extend_by_hours"][0]

    services.extend_expired(actor=devops_user, request=request, extend_by_hours=24, note="demo tomorrow")
    request.refresh_from_db()
    assert request.status == RequestStatus.DEPLOYED
    assert request.purge_after is None
    assert timedelta(hours=23) < request.expires_at - timezone.now() <= timedelta(hours=24)
    event = Event.objects.get(provision_request=request, action="extend_expired")
    assert (event.from_status, event.to_status, event.actor_name, event.note) == (
        "EXPIRED",
        "DEPLOYED",
        devops_user.username,
        "demo tomorrow",
    )
    assert Notification.objects.filter(kind=Kind.EXTENSION_APPROVED, provision_request=request).exists()
    assert request.reservation_state == ReservationState.HELD


@pytest.mark.django_db
def test_extend_expired_only_what_was_deployed(make_request, devops_user):
    never = make_request(status=RequestStatus.APPROVED, expires_at=timezone.now() + timedelta(hours=2))
    services.expire(request=never)
    with pytest.raises(Conflict):
        services.extend_expired(actor=devops_user, request=never, extend_by_hours=4)
    live = make_request(status=RequestStatus.DEPLOYED)
    with pytest.raises(InvalidTransition):
        services.extend_expired(actor=devops_user, request=live, extend_by_hours=4)


@pytest.mark.django_db
def test_api_extend_expired(make_request, eks, devops_client, dev_client):
    _set_policy(eks, purge_grace_hours=6)
    request = make_request(status=RequestStatus.DEPLOYED, expires_at=timezone.now() + timedelta(hours=2))
    services.expire(request=request)
    url = f"/api/v1/provision-requests/{request.pk}/extend/"
    assert dev_client.post(url, {"extend_by_hours": 4}, format="json").status_code == 403
    detail = devops_client.get(f"/api/v1/provision-requests/{request.pk}/").json()
    assert "extend_expired" in detail["actions"]
    response = devops_client.post(url, {"extend_by_hours": 4, "note": "keep"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == RequestStatus.DEPLOYED
    assert devops_client.post(url, {"extend_by_hours": 4}, format="json").status_code == 409


# --- 5. four-eyes approval ----------------------------------------------------------------------


@pytest.fixture
def two_approvals(make_request, eks):
    _set_policy(eks, required_approvals=2)
    return make_request


@pytest.mark.django_db
def test_two_approvals_from_different_reviewers(two_approvals, make_user, provisioning_queue):
    first, second = make_user("ops-a", "devops"), make_user("ops-b", "devops")
    request = two_approvals()
    services.approve_request(actor=first, request=request, note="looks fine")
    request.refresh_from_db()
    assert request.status == RequestStatus.REQUESTED
    assert [entry["username"] for entry in request.approvals] == ["ops-a"]
    assert provisioning_queue.count == 0
    partial = Event.objects.get(provision_request=request, action="approve")
    assert (partial.from_status, partial.to_status, partial.data) == (
        "REQUESTED",
        "REQUESTED",
        {"approval": 1, "required_approvals": 2},
    )
    queue = Notification.objects.get(recipient=second, kind=Kind.REVIEW_REQUEST)
    assert "Approval 1 of 2 recorded; waiting for another reviewer. Approved so far by ops-a." in queue.body

    with pytest.raises(Conflict) as twice:
        services.approve_request(actor=first, request=request)
    assert twice.value.code == "already_approved"

    services.approve_request(actor=second, request=request, note="ok")
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    assert [entry["username"] for entry in request.approvals] == ["ops-a", "ops-b"]
    assert request.reviewed_by == second
    assert [job.id for job in provisioning_queue.jobs] == [f"provision-{request.pk}"]
    assert Event.objects.filter(provision_request=request, action="approve", to_status="APPROVED").count() == 1


@pytest.mark.django_db
def test_one_rejection_rejects_a_partly_approved_request(two_approvals, make_user):
    first, second = make_user("ops-a", "devops"), make_user("ops-b", "devops")
    request = two_approvals()
    services.approve_request(actor=first, request=request)
    services.reject_request(actor=second, request=request, note="too big")
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED
    assert request.reservation_state == ReservationState.RELEASED
    with pytest.raises(InvalidTransition):
        services.approve_request(actor=second, request=request)


@pytest.mark.django_db
def test_the_system_approves_only_single_approval_requests(two_approvals, eks):
    _set_policy(eks, auto_approve=True, auto_approve_max_usd=Decimal("100000"))
    request = two_approvals()
    assert jobs.analyse(str(request.pk)) == "needs review"
    assert "2 approvals" in ProvisionRequest.objects.get(pk=request.pk).analysis_remarks[-1]["message"]
    with pytest.raises(PermissionDenied):
        services.approve_request(actor=None, request=request)
    _set_policy(eks, required_approvals=1)
    single = two_approvals()
    assert jobs.analyse(str(single.pk)) == "auto-approved"
    assert [entry["username"] for entry in ProvisionRequest.objects.get(pk=single.pk).approvals] == ["system"]


@pytest.mark.django_db
def test_api_shows_who_approved_so_far_and_409_for_the_same_reviewer(two_approvals, devops_client, devops_user):
    request = two_approvals()
    url = f"/api/v1/provision-requests/{request.pk}/"
    assert devops_client.post(url + "approve/", {"note": "fine"}, format="json").status_code == 200
    body = devops_client.get(url).json()
    assert body["status"] == RequestStatus.REQUESTED
    assert body["approval_progress"] == "1 of 2 approvals"
    assert body["required_approvals"] == 2
    assert [entry["username"] for entry in body["approvals"]] == [devops_user.username]
    again = devops_client.post(url + "approve/", {}, format="json")
    assert again.status_code == 409
    assert "already approved" in again.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_approving_at_the_same_instant(two_approvals, make_user, provisioning_queue):
    for _ in range(5):
        provisioning_queue.empty()
        request = two_approvals()
        reviewers = [make_user(f"ops-{request.pk}-{i}", "devops") for i in range(2)]
        outcomes = race(
            2,
            lambda i, pk=request.pk, reviewers=reviewers: services.approve_request(
                actor=reviewers[i], request=ProvisionRequest.objects.get(pk=pk)
            ),
        )
        assert outcomes == {"ok": 2}
        request.refresh_from_db()
        assert request.status == RequestStatus.APPROVED
        assert sorted(entry["username"] for entry in request.approvals) == sorted(r.username for r in reviewers)
        moves = Event.objects.filter(provision_request=request, action="approve", to_status="APPROVED")
        assert moves.count() == 1
        assert [job.id for job in provisioning_queue.jobs] == [f"provision-{request.pk}"]


@pytest.mark.django_db(transaction=True)
def test_the_same_reviewer_twice_at_once_counts_once(two_approvals, devops_user, provisioning_queue):
    request = two_approvals()
    outcomes = race(
        2, lambda i: services.approve_request(actor=devops_user, request=ProvisionRequest.objects.get(pk=request.pk))
    )
    assert outcomes == {"ok": 1, "Conflict": 1}
    request.refresh_from_db()
    assert request.status == RequestStatus.REQUESTED
    assert len(request.approvals) == 1
    assert provisioning_queue.count == 0
