from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cloudassist import services as user_services
from cloudassist.exceptions import Conflict
from provisioning import services
from provisioning.choices import ExtensionSlot, ExtensionStatus, RequestStatus, RequestType
from provisioning.models import Event, ExtensionRequest, ProvisionRequest
from provisioning.tests.conftest import EKS_PARAMETERS
from provisioning.transitions import InvalidTransition
from templates import services as template_services


def _trail(request) -> list[tuple[str, str, str]]:
    return [(e.action, e.from_status, e.to_status) for e in Event.objects.filter(provision_request=request)]


# --- submission -------------------------------------------------------------------------


@pytest.mark.django_db
def test_submit_snapshots_the_template_and_applies_defaults(eks, dev_user):
    before = timezone.now()
    request = services.submit_request(actor=dev_user, template=eks, parameters={"cluster_name": "abc-1"})
    stored = ProvisionRequest.objects.get(pk=request.pk)
    assert stored.status == RequestStatus.REQUESTED
    assert stored.parameters == {
        "cluster_name": "abc-1",
        "region": "us-east-1",
        "instance_type": "t3.medium",
        "desired_capacity": 2,
        "volume_size": 20,
    }
    assert stored.template_version == 1
    assert stored.template_snapshot["body"] == eks.body
    assert stored.template_snapshot["parameters_schema"] == eks.parameters_schema
    assert stored.template_snapshot["provider"] == "aws-eks"
    default_expiry = before + timedelta(hours=eks.default_lifetime_hours)
    assert default_expiry - timedelta(seconds=1) <= stored.expires_at <= default_expiry + timedelta(seconds=5)
    assert stored.expires_at == request.expires_at
    assert _trail(request) == [("submit", "", "REQUESTED")]

    # A later template change leaves the snapshot and the plan alone.
    planned = stored.plan
    assert [resource["kind"] for resource in planned["resources"]] == ["EKS cluster", "managed node group"]
    template_services.update_template(template=eks, body=eks.body.replace("ng-1", "ng-other"))
    stored.refresh_from_db()
    assert stored.template_snapshot["body"] != eks.body
    assert stored.template_version == 1
    assert stored.plan == planned


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"cluster_name": "abc-1", "desired_capacity": "two"}, "parameters.desired_capacity"),
        ({"cluster_name": "abc-1", "region": "mars-1"}, "parameters.region"),
        ({"cluster_name": "abc-1", "colour": "blue"}, "parameters.colour"),
        ({}, "parameters.cluster_name"),
        (["not", "an", "object"], "parameters"),
    ],
)
def test_parameters_are_validated_against_the_schema(eks, dev_user, parameters, field):
    with pytest.raises(ValidationError) as invalid:
        services.submit_request(actor=dev_user, template=eks, parameters=parameters)
    assert field in invalid.value.message_dict
    assert not ProvisionRequest.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_inactive_templates_cannot_be_requested(eks, dev_user):
    template_services.set_active(template=eks, active=False)
    with pytest.raises(ValidationError, match="inactive"):
        services.submit_request(actor=dev_user, template=eks, parameters=EKS_PARAMETERS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("hours", "request_type", "message"),
    [
        (-1, RequestType.TEMPORARY, "Must be in the future"),
        (0, RequestType.TEMPORARY, "Must be in the future"),
        (169, RequestType.TEMPORARY, "maximum lifetime of 168 hours"),
        (5, RequestType.PERMANENT, "Permanent requests do not expire"),
    ],
)
def test_expiry_rules(eks, dev_user, hours, request_type, message):
    with pytest.raises(ValidationError, match=message) as invalid:
        services.submit_request(
            actor=dev_user,
            template=eks,
            parameters=EKS_PARAMETERS,
            request_type=request_type,
            expires_at=timezone.now() + timedelta(hours=hours),
        )
    assert "expires_at" in invalid.value.message_dict


@pytest.mark.django_db
def test_expiry_within_the_maximum_and_permanent_without_expiry(eks, dev_user):
    wanted = timezone.now() + timedelta(hours=167)
    temporary = services.submit_request(actor=dev_user, template=eks, parameters=EKS_PARAMETERS, expires_at=wanted)
    assert abs(ProvisionRequest.objects.get(pk=temporary.pk).expires_at - wanted) < timedelta(milliseconds=1)
    permanent = services.submit_request(
        actor=dev_user, template=eks, parameters=EKS_PARAMETERS, request_type=RequestType.PERMANENT
    )
    assert ProvisionRequest.objects.get(pk=permanent.pk).expires_at is None


# --- review -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_approval_records_the_reviewer_and_enqueues_one_job_after_commit(make_request, devops_user, provisioning_queue):
    request = make_request()
    services.approve_request(actor=devops_user, request=request, note="looks fine")
    stored = ProvisionRequest.objects.get(pk=request.pk)
    assert (stored.status, stored.reviewed_by, stored.review_note) == ("APPROVED", devops_user, "looks fine")
    assert stored.reviewed_at is not None
    assert [job.func_name for job in provisioning_queue.jobs] == ["provisioning.jobs.provision"]
    assert provisioning_queue.jobs[0].args == (str(request.pk),)
    assert _trail(request)[-1] == ("approve", "REQUESTED", "APPROVED")


@pytest.mark.django_db
def test_permanent_requests_are_never_approved_by_the_system(make_request, devops_user):
    request = make_request(request_type=RequestType.PERMANENT)
    with pytest.raises(PermissionDenied, match="Permanent"):
        services.approve_request(actor=None, request=request)
    assert services.approve_request(actor=devops_user, request=request).status == RequestStatus.APPROVED


@pytest.mark.django_db
def test_rejection_needs_a_note_and_enqueues_nothing(make_request, devops_user, provisioning_queue):
    request = make_request()
    with pytest.raises(ValidationError) as invalid:
        services.reject_request(actor=devops_user, request=request, note="  ")
    assert "note" in invalid.value.message_dict
    services.reject_request(actor=devops_user, request=request, note="too big")
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.REJECTED
    assert provisioning_queue.count == 0


@pytest.mark.django_db
def test_revoke_before_provisioning_only(make_request, dev_user):
    approved = make_request(status=RequestStatus.APPROVED)
    assert services.revoke_request(actor=dev_user, request=approved).status == RequestStatus.REVOKED
    deployed = make_request(status=RequestStatus.DEPLOYED)
    with pytest.raises(InvalidTransition) as refused:
        services.revoke_request(actor=dev_user, request=deployed)
    assert refused.value.current_status == RequestStatus.DEPLOYED


@pytest.mark.django_db
def test_description_is_editable_by_the_requester_while_requested(make_request, dev_user, devops_user):
    request = make_request(description="old")
    services.update_description(actor=dev_user, request=request, description="new")
    assert ProvisionRequest.objects.get(pk=request.pk).description == "new"
    assert Event.objects.get(action="edit").data == {"description": {"from": "old", "to": "new"}}
    with pytest.raises(PermissionDenied):
        services.update_description(actor=devops_user, request=request, description="mine")
    services.approve_request(actor=devops_user, request=request)
    with pytest.raises(InvalidTransition) as refused:
        services.update_description(actor=dev_user, request=request, description="later")
    assert refused.value.current_status == RequestStatus.APPROVED
    assert ProvisionRequest.objects.get(pk=request.pk).description == "new"


# --- extensions -------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_approved_extension_moves_expiry_once(live_request, dev_user, devops_user):
    expiry = live_request.expires_at
    extension = services.request_extension(actor=dev_user, request=live_request, extend_by_hours=12, reason="demo")
    services.approve_extension(actor=devops_user, extension=extension, note="ok")
    live_request.refresh_from_db()
    assert live_request.expires_at == ProvisionRequest.objects.get(pk=live_request.pk).expires_at
    assert abs(live_request.expires_at - (expiry + timedelta(hours=12))) < timedelta(milliseconds=1)
    assert live_request.extension_slot == ExtensionSlot.USED
    assert _trail(live_request)[-3:] == [
        ("submit", "", "REQUESTED"),
        ("approve", "REQUESTED", "APPROVED"),
        ("extend", "DEPLOYED", "DEPLOYED"),
    ]
    moved = Event.objects.get(provision_request=live_request, action="extend").data["expires_at"]
    assert moved == {"from": expiry.isoformat(), "to": live_request.expires_at.isoformat()}
    with pytest.raises(Conflict, match="already had its one extension"):
        services.request_extension(actor=dev_user, request=live_request, extend_by_hours=1, reason="again")


@pytest.mark.django_db
def test_one_pending_extension_at_a_time_and_a_rejected_one_frees_the_slot(live_request, dev_user, devops_user):
    first = services.request_extension(actor=dev_user, request=live_request, extend_by_hours=2, reason="a")
    with pytest.raises(Conflict, match="already pending"):
        services.request_extension(actor=dev_user, request=live_request, extend_by_hours=3, reason="b")
    services.reject_extension(actor=devops_user, extension=first, note="no")
    second = services.request_extension(actor=dev_user, request=live_request, extend_by_hours=3, reason="c")
    services.revoke_extension(actor=dev_user, extension=second)
    third = services.request_extension(actor=dev_user, request=live_request, extend_by_hours=4, reason="d")
    assert ExtensionRequest.objects.get(pk=third.pk).status == ExtensionStatus.REQUESTED
    assert ProvisionRequest.objects.get(pk=live_request.pk).extension_slot == ExtensionSlot.PENDING


@pytest.mark.django_db
@pytest.mark.parametrize("status", [RequestStatus.REQUESTED, RequestStatus.EXPIRED, RequestStatus.PURGED])
def test_extensions_only_for_live_environments(make_request, dev_user, status):
    request = make_request(status=status)
    with pytest.raises(InvalidTransition) as refused:
        services.request_extension(actor=dev_user, request=request, extend_by_hours=2, reason="x")
    assert refused.value.current_status == status
    assert not ExtensionRequest.objects.exists()


@pytest.mark.django_db
def test_extension_rules_for_people_and_permanent_requests(make_request, live_request, dev_user, other_dev):
    with pytest.raises(PermissionDenied):
        services.request_extension(actor=other_dev, request=live_request, extend_by_hours=2, reason="x")
    for hours in (0, 721, 10000):
        with pytest.raises(ValidationError) as invalid:
            services.request_extension(actor=dev_user, request=live_request, extend_by_hours=hours, reason="x")
        assert "extend_by_hours" in invalid.value.message_dict
    permanent = make_request(request_type=RequestType.PERMANENT, status=RequestStatus.DEPLOYED)
    with pytest.raises(Conflict, match="Permanent"):
        services.request_extension(actor=dev_user, request=permanent, extend_by_hours=2, reason="x")


@pytest.mark.django_db
def test_approving_an_extension_of_an_expired_environment_changes_nothing(live_request, dev_user, devops_user):
    extension = services.request_extension(actor=dev_user, request=live_request, extend_by_hours=2, reason="x")
    ProvisionRequest.objects.filter(pk=live_request.pk).update(status=RequestStatus.EXPIRED)
    events_before = Event.objects.count()
    with pytest.raises(InvalidTransition) as refused:
        services.approve_extension(actor=devops_user, extension=extension)
    assert refused.value.current_status == RequestStatus.EXPIRED
    # The extension's own compare-and-set was rolled back with the rest of the transaction.
    assert ExtensionRequest.objects.get(pk=extension.pk).status == ExtensionStatus.REQUESTED
    assert ProvisionRequest.objects.get(pk=live_request.pk).expires_at == live_request.expires_at
    assert Event.objects.count() == events_before


@pytest.mark.django_db
def test_nobody_reviews_their_own_extension(make_request, make_user):
    reviewer = make_user("ops-owner", "devops")
    request = make_request(user=reviewer, status=RequestStatus.DEPLOYED)
    extension = services.request_extension(actor=reviewer, request=request, extend_by_hours=2, reason="x")
    with pytest.raises(PermissionDenied, match="their own"):
        services.approve_extension(actor=reviewer, extension=extension)


@pytest.mark.django_db
def test_users_with_requests_are_deactivated_not_deleted(make_request, dev_user, admin_user):
    make_request()
    with pytest.raises(Conflict, match="deactivate"):
        user_services.delete_user(user=dev_user, actor=admin_user)
    assert ProvisionRequest.objects.filter(requested_by=dev_user).exists()
