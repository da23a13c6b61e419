"""The transitions table, move by move: every (move, status) pair is allowed exactly when the table says."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from provisioning import transitions
from provisioning.choices import ExtensionStatus, RequestStatus
from provisioning.models import Event, ExtensionRequest, ProvisionRequest
from provisioning.transitions import EXTENSION_MOVES, REQUEST_MOVES, InvalidTransition, Who

REQUEST_CASES = [(action, status) for action in REQUEST_MOVES for status in RequestStatus.values]
EXTENSION_CASES = [(action, status) for action in EXTENSION_MOVES for status in ExtensionStatus.values]


def _actor_for(move, *, owner, reviewer):
    if Who.REQUESTER in move.by:
        return owner
    if Who.REVIEWER in move.by:
        return reviewer
    return None  # the system


def _check_move(subject, move, status, actor) -> None:
    model = type(subject)
    model.objects.filter(pk=subject.pk).update(status=status)
    subject.status = status
    events_before = Event.objects.count()
    if status in move.sources:
        transitions.transition(subject, move.action, actor=actor, note="why")
        assert model.objects.get(pk=subject.pk).status == move.target
        event = Event.objects.latest("created_at")
        assert (event.action, event.from_status, event.to_status, event.note) == (
            move.action,
            status,
            move.target,
            "why",
        )
        assert event.actor_name == (actor.username if actor else "system")
    else:
        with pytest.raises(InvalidTransition) as refused:
            transitions.transition(subject, move.action, actor=actor)
        assert refused.value.current_status == status
        assert status in refused.value.message
        assert model.objects.get(pk=subject.pk).status == status
        assert Event.objects.count() == events_before


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "status"), REQUEST_CASES)
def test_every_request_move_from_every_status(action, status, make_request, dev_user, devops_user):
    move = REQUEST_MOVES[action]
    request = make_request()
    _check_move(request, move, status, _actor_for(move, owner=dev_user, reviewer=devops_user))


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "status"), EXTENSION_CASES)
def test_every_extension_move_from_every_status(action, status, live_request, dev_user, devops_user):
    move = EXTENSION_MOVES[action]
    extension = ExtensionRequest.objects.create(
        provision_request=live_request, requested_by=dev_user, reason="r", extend_by_hours=2
    )
    _check_move(extension, move, status, _actor_for(move, owner=dev_user, reviewer=devops_user))


def test_table_covers_every_status_and_names_who():
    reachable = {move.target for move in REQUEST_MOVES.values()} | {transitions.SUBMIT.target}
    assert reachable == set(RequestStatus.values)
    assert {move.target for move in EXTENSION_MOVES.values()} | {ExtensionStatus.REQUESTED} == set(
        ExtensionStatus.values
    )
    assert all(move.by and move.sources for move in [*REQUEST_MOVES.values(), *EXTENSION_MOVES.values()])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "who", "message"),
    [
        ("approve", "owner", "Only DevOps or admins"),
        ("approve", "other_dev", "Only DevOps or admins"),
        ("approve", "own_reviewer", "Nobody reviews their own"),
        ("reject", "system", "Only a person"),
        ("revoke", "devops", "Only the requester"),
        ("revoke", "system", "Only a person"),
        ("start_provisioning", "devops", "Only the system"),
        ("mark_purged", "owner", "Only the system"),
    ],
)
def test_who_may_move(action, who, message, make_request, make_user, dev_user, other_dev, devops_user):
    reviewer_owner = make_user("ops-owner", "devops")
    actors = {
        "owner": dev_user,
        "other_dev": other_dev,
        "devops": devops_user,
        "own_reviewer": reviewer_owner,
        "system": None,
    }
    request = make_request(user=reviewer_owner if who == "own_reviewer" else dev_user)
    move = REQUEST_MOVES[action]
    ProvisionRequest.objects.filter(pk=request.pk).update(status=next(iter(move.sources)))
    request.refresh_from_db()
    with pytest.raises(PermissionDenied, match=message):
        transitions.transition(request, action, actor=actors[who])
    assert ProvisionRequest.objects.get(pk=request.pk).status == request.status


@pytest.mark.django_db
def test_admins_review_too_and_the_system_may_approve(make_request, admin_user):
    first, second = make_request(), make_request()
    assert transitions.transition(first, "approve", actor=admin_user).status == RequestStatus.APPROVED
    assert transitions.transition(second, "approve", actor=None).status == RequestStatus.APPROVED


@pytest.mark.django_db
def test_a_lost_race_is_retried_when_the_move_is_still_allowed(make_request, dev_user):
    request = make_request()
    stale = ProvisionRequest.objects.get(pk=request.pk)
    ProvisionRequest.objects.filter(pk=request.pk).update(status=RequestStatus.APPROVED)  # someone approved meanwhile
    transitions.transition(stale, "revoke", actor=dev_user)
    event = Event.objects.get(provision_request=request, action="revoke")
    assert (event.from_status, event.to_status) == ("APPROVED", "REVOKED")


@pytest.mark.django_db
def test_allowed_actions_follow_the_table(make_request):
    request = make_request(status=RequestStatus.APPROVED)
    assert set(transitions.allowed_actions(request)) == {"revoke", "start_provisioning", "expire"}


@pytest.mark.django_db(transaction=True)
def test_a_review_survives_an_election_and_one_that_outlasts_the_retries_is_a_503(
    make_request, devops_client, monkeypatch
):
    from cloudassist import db
    from cloudassist.testing.failpoints import fail_command

    first, second = make_request(), make_request()
    with fail_command(["update"], times=1, errorCode=189, errorLabels=["TransientTransactionError"]):
        approved = devops_client.post(f"/api/v1/provision-requests/{first.pk}/approve/", {}, format="json")
    assert approved.status_code == 200, approved.content
    monkeypatch.setattr(db, "retry_budget", lambda using="default": 0.3)  # MONGODB_TIMEOUT_MS
    with fail_command(["update"], times=None, errorCode=189, errorLabels=["TransientTransactionError"]):
        refused = devops_client.post(f"/api/v1/provision-requests/{second.pk}/approve/", {}, format="json")
    assert refused.status_code == 503  # not a 409 "being changed by someone else", not a 500
    assert refused.headers["Retry-After"]
    second.refresh_from_db()
    assert second.status == "REQUESTED"
