"""Who is told what, when: each event writes its notifications in the same transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import services as notification_services
from notifications.choices import DeliveryStatus, Kind
from notifications.models import Delivery, Notification
from provisioning import announcements, jobs, services
from provisioning.choices import RequestStatus
from provisioning.models import ProvisionRequest
from provisioning.tests.conftest import use_provider
from quotas.models import Quota
from quotas.services import QuotaExceeded


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("created_at").values_list("kind", flat=True))


def _noop(request) -> ProvisionRequest:
    return use_provider(request, "noop")


@pytest.mark.django_db
def test_the_requester_hears_about_every_step(make_request, dev_user, devops_user):
    request = _noop(make_request())
    services.approve_request(actor=devops_user, request=request, note="enjoy")
    jobs.provision(str(request.pk))
    extension = services.request_extension(actor=dev_user, request=request, extend_by_hours=2, reason="demo")
    services.approve_extension(actor=devops_user, extension=extension)
    request.refresh_from_db()
    services.expire(request=request)
    jobs.purge(str(request.pk))
    assert kinds(dev_user) == [
        Kind.REQUEST_APPROVED,
        Kind.PROVISIONED,
        Kind.EXTENSION_APPROVED,
        Kind.EXPIRED,
        Kind.PURGED,
    ]
    approved = Notification.objects.get(recipient=dev_user, kind=Kind.REQUEST_APPROVED)
    assert "enjoy" in approved.body
    provisioned = Notification.objects.get(recipient=dev_user, kind=Kind.PROVISIONED)
    assert provisioned.link == f"http://127.0.0.1:8000/portal/requests/{request.pk}/download/credentials/"
    assert "noop credentials" not in provisioned.body  # a link to the secret, never the secret
    # Email is on by default: one pending email delivery per notification, none for in-app.
    assert set(Delivery.objects.filter(notification=approved).values_list("channel", "status")) == {
        ("email", DeliveryStatus.PENDING)
    }


@pytest.mark.django_db
def test_rejections_and_failures_carry_the_reason(make_request, dev_user, devops_user):
    rejected = make_request()
    services.reject_request(actor=devops_user, request=rejected, note="use a namespace instead")
    assert "use a namespace instead" in Notification.objects.get(kind=Kind.REQUEST_REJECTED).body
    failed = make_request()
    services.approve_request(actor=devops_user, request=failed)
    services.start_provisioning(request=failed)
    services.mark_failed(request=failed, note="the cloud said no")
    assert "the cloud said no" in Notification.objects.get(kind=Kind.PROVISION_FAILED).body
    live = make_request(status=RequestStatus.DEPLOYED)
    extension = services.request_extension(actor=dev_user, request=live, extend_by_hours=2, reason="r")
    services.reject_extension(actor=devops_user, extension=extension, note="not this time")
    assert "not this time" in Notification.objects.get(kind=Kind.EXTENSION_REJECTED).body


@pytest.mark.django_db
def test_devops_hear_about_reviews_once_and_failed_purges_at_most_hourly(
    make_request, dev_user, devops_user, make_user
):
    devops_user, other_ops = make_user("ops-a", "devops"), make_user("ops-b", "devops")
    request = make_request()
    jobs.analyse(str(request.pk))
    jobs.analyse(str(request.pk))  # a second run pages nobody again
    assert kinds(devops_user) == [Kind.REVIEW_REQUEST]
    assert kinds(other_ops) == [Kind.REVIEW_REQUEST]
    assert kinds(dev_user) == []
    # More requests: still one review-queue item each, saying how many wait and the newest.
    jobs.analyse(str(make_request(description="second one").pk))
    jobs.analyse(str(make_request(description="third one").pk))
    assert kinds(devops_user) == [Kind.REVIEW_REQUEST]
    queue = Notification.objects.get(recipient=other_ops, kind=Kind.REVIEW_REQUEST)
    assert queue.title == "To review: 3 requests waiting"
    assert "“third one” (Basic EKS cluster)" in queue.body
    # No email by default: in-app only, unless the reviewer opted in.
    assert not Delivery.objects.filter(notification__kind=Kind.REVIEW_REQUEST).exists()
    notification_services.update_settings(user=other_ops, channels={Kind.REVIEW_REQUEST: ["email", "in_app"]})
    notification_services.mark_read(user=devops_user)
    jobs.analyse(str(make_request(description="fourth one").pk))
    assert kinds(devops_user) == [Kind.REVIEW_REQUEST, Kind.REVIEW_REQUEST]  # read: a new item
    assert kinds(other_ops) == [Kind.REVIEW_REQUEST]
    assert list(Delivery.objects.values_list("notification__recipient", "channel")) == [(other_ops.pk, "email")]

    live = make_request(status=RequestStatus.DEPLOYED)
    services.request_extension(actor=dev_user, request=live, extend_by_hours=2, reason="r")
    assert kinds(devops_user)[-1] == Kind.REVIEW_EXTENSION

    now = timezone.now()
    assert announcements.purge_failed(live, note="denied", now=now)
    assert not announcements.purge_failed(live, note="denied", now=now + timedelta(minutes=30))
    Notification.objects.filter(kind=Kind.PURGE_FAILED).update(created_at=now - timedelta(minutes=61))
    assert announcements.purge_failed(live, note="denied", now=now)
    assert kinds(devops_user).count(Kind.PURGE_FAILED) == 2


@pytest.mark.django_db
def test_a_refused_move_notifies_nobody(make_request, dev_user, devops_user):
    Quota.objects.create(user=dev_user, usd_budget=100)
    request = make_request()
    Quota.objects.filter(user=dev_user).update(usd_budget=0)
    with pytest.raises(QuotaExceeded):  # rolls the whole approval back, its notification included
        services.approve_request(actor=devops_user, request=request)
    assert kinds(dev_user) == []


@pytest.mark.django_db
def test_expiry_warnings_go_out_once_per_lead_time(make_request, dev_user, devops_user, settings):
    settings.NOTIFY_EXPIRY_LEAD_HOURS = [24, 1]
    start = timezone.now()
    request = make_request(expires_at=start + timedelta(hours=30))
    services.approve_request(actor=devops_user, request=request)
    Notification.objects.all().delete()

    def warnings() -> int:
        return Notification.objects.filter(recipient=dev_user, kind=Kind.EXPIRY_WARNING).count()

    assert announcements.warn_expiring(now=start) == 0
    # 23 h left: inside the 24 h lead, but a warning comes no sooner than a tenth of the lease (3 h) before.
    assert announcements.warn_expiring(now=start + timedelta(hours=7)) == 0
    assert announcements.warn_expiring(now=start + timedelta(hours=27, minutes=30)) == 1  # 2.5 h left
    assert announcements.warn_expiring(now=start + timedelta(hours=28)) == 0
    assert announcements.warn_expiring(now=start + timedelta(hours=29, minutes=30)) == 1  # the 1 h warning
    assert announcements.warn_expiring(now=start + timedelta(hours=29, minutes=45)) == 0
    assert warnings() == 2
    assert "Expires in 30 min" in Notification.objects.filter(kind=Kind.EXPIRY_WARNING).latest("created_at").title

    # An extension moves expires_at: the warnings are armed again for the new time (a 40 h lease: 4 h before).
    extension = services.request_extension(actor=dev_user, request=request, extend_by_hours=10, reason="r")
    services.approve_extension(actor=devops_user, extension=extension)
    assert announcements.warn_expiring(now=start + timedelta(hours=29, minutes=45)) == 0
    assert announcements.warn_expiring(now=start + timedelta(hours=36, minutes=30)) == 1
    assert warnings() == 3


@pytest.mark.django_db
def test_when_several_lead_times_are_due_only_the_most_urgent_is_sent(make_request, dev_user, devops_user, settings):
    settings.MIN_USEFUL_LIFETIME_MINUTES = 30  # approve a request that expires in 40 minutes
    start = timezone.now()
    request = make_request(expires_at=start + timedelta(minutes=40))
    services.approve_request(actor=devops_user, request=request)
    assert announcements.warn_expiring(now=start) == 0  # both leads cover it, but not at once
    assert announcements.warn_expiring(now=start + timedelta(minutes=37)) == 1  # a tenth of the lease left
    assert announcements.warn_expiring(now=start + timedelta(minutes=38)) == 0
    assert Notification.objects.filter(kind=Kind.EXPIRY_WARNING).count() == 1


@pytest.mark.django_db
def test_users_choose_channels_per_kind(make_request, dev_user, devops_user):
    notification_services.update_settings(
        user=dev_user, channels={Kind.REQUEST_APPROVED: ["webhook"], Kind.EXPIRED: []}
    )
    request = make_request()
    services.approve_request(actor=devops_user, request=request)
    approved = Notification.objects.get(recipient=dev_user, kind=Kind.REQUEST_APPROVED)
    assert list(Delivery.objects.filter(notification=approved).values_list("channel", flat=True)) == ["webhook"]


@pytest.mark.django_db
def test_devops_links_open_the_admin_change_page_and_developers_links_the_request(
    settings, make_request, dev_user, devops_user
):
    settings.SITE_URL = "http://127.0.0.1:8123/"
    request = make_request()
    jobs.analyse(str(request.pk))
    review = Notification.objects.get(recipient=devops_user, kind=Kind.REVIEW_REQUEST)
    assert review.link == "http://127.0.0.1:8123/admin/provisioning/provisionrequest/"  # the review queue
    services.approve_request(actor=devops_user, request=request)
    approved = Notification.objects.get(recipient=dev_user, kind=Kind.REQUEST_APPROVED)
    assert approved.link == f"http://127.0.0.1:8123/portal/requests/{request.pk}/"  # the portal's page
    ProvisionRequest.objects.filter(pk=request.pk).update(status=RequestStatus.DEPLOYED)
    request.refresh_from_db()
    extension = services.request_extension(actor=dev_user, request=request, extend_by_hours=2, reason="demo")
    asked = Notification.objects.get(recipient=devops_user, kind=Kind.REVIEW_EXTENSION)
    assert asked.link == f"http://127.0.0.1:8123/admin/provisioning/extensionrequest/{extension.pk}/change/"


@pytest.mark.django_db
def test_titles_name_the_request_by_its_description_never_its_id(make_request, dev_user, devops_user):
    request = make_request(description="demo for team A")
    services.reject_request(actor=devops_user, request=request, note="no")
    rejected = Notification.objects.get(recipient=dev_user, kind=Kind.REQUEST_REJECTED)
    assert rejected.title == "Rejected: “demo for team A” (Basic EKS cluster)"
    assert str(request.pk) not in rejected.title
    plain = make_request(description="")
    services.reject_request(actor=devops_user, request=plain, note="no")
    assert Notification.objects.filter(title="Rejected: Basic EKS cluster").exists()


@pytest.mark.django_db
def test_a_short_lease_is_warned_near_its_end_not_when_it_is_ready(make_request, dev_user, devops_user, settings):
    settings.NOTIFY_EXPIRY_LEAD_HOURS = [24, 1]
    request = make_request(expires_at=timezone.now() + timedelta(hours=8))
    services.approve_request(actor=devops_user, request=request)
    start = request.created_at

    def warnings() -> list[str]:
        return list(Notification.objects.filter(kind=Kind.EXPIRY_WARNING).values_list("title", flat=True))

    assert announcements.warn_expiring(now=start) == 0  # deployed now: 8 h left, inside 24 h, yet quiet
    assert announcements.warn_expiring(now=start + timedelta(hours=7)) == 0  # 1 h left: not yet a tenth
    assert announcements.warn_expiring(now=start + timedelta(hours=7, minutes=13)) == 1  # 47 min left
    assert warnings() == ["Expires in 47 min: Basic EKS cluster"]
    assert announcements.warn_expiring(now=start + timedelta(hours=7, minutes=30)) == 0  # once
