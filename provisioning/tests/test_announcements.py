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
    assert announcements.warn_expiring(now=start + timedelta(hours=7)) == 1  # 23 h left: the 24 h warning
    assert announcements.warn_expiring(now=start + timedelta(hours=8)) == 0
    assert announcements.warn_expiring(now=start + timedelta(hours=29, minutes=30)) == 1  # the 1 h warning
    assert announcements.warn_expiring(now=start + timedelta(hours=29, minutes=45)) == 0
    assert warnings() == 2
    assert "Expires in 0.5 h" in Notification.objects.filter(kind=Kind.EXPIRY_WARNING).latest("created_at").title

    # An extension moves expires_at: the warnings are armed again for the new time.
    extension = services.request_extension(actor=dev_user, request=request, extend_by_hours=10, reason="r")
    services.approve_extension(actor=devops_user, extension=extension)
    assert announcements.warn_expiring(now=start + timedelta(hours=29, minutes=45)) == 1
    assert warnings() == 3


@pytest.mark.django_db
def test_when_several_lead_times_are_due_only_the_most_urgent_is_sent(make_request, dev_user, devops_user, settings):
    settings.MIN_USEFUL_LIFETIME_MINUTES = 30  # approve a request that expires in 40 minutes
    start = timezone.now()
    request = make_request(expires_at=start + timedelta(minutes=40))
    services.approve_request(actor=devops_user, request=request)
    assert announcements.warn_expiring(now=start) == 1
    assert announcements.warn_expiring(now=start + timedelta(minutes=5)) == 0
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
    assert review.link == f"http://127.0.0.1:8123/admin/provisioning/provisionrequest/{request.pk}/change/"
    services.approve_request(actor=devops_user, request=request)
    approved = Notification.objects.get(recipient=dev_user, kind=Kind.REQUEST_APPROVED)
    assert approved.link == f"http://127.0.0.1:8123/portal/requests/{request.pk}/"  # the portal's page
    ProvisionRequest.objects.filter(pk=request.pk).update(status=RequestStatus.DEPLOYED)
    request.refresh_from_db()
    extension = services.request_extension(actor=dev_user, request=request, extend_by_hours=2, reason="demo")
    asked = Notification.objects.get(recipient=devops_user, kind=Kind.REVIEW_EXTENSION)
    assert asked.link == f"http://127.0.0.1:8123/admin/provisioning/extensionrequest/{extension.pk}/change/"
