"""Deliveries through real servers: SMTP (aiosmtpd), a webhook receiver, and a Redis that is
down when the event happens."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rq import SimpleWorker

from cloudassist import embedded
from notifications import services
from notifications.choices import DeliveryStatus, Kind
from notifications.models import Delivery, RoleWebhook
from provisioning import services as provisioning_services


@pytest.fixture(autouse=True)
def _no_expiry_warnings(settings):
    settings.NOTIFY_EXPIRY_LEAD_HOURS = []  # keep the sweep to the deliveries under test


@pytest.fixture
def emailed_dev(dev_user):
    get_user_model().objects.filter(pk=dev_user.pk).update(email="dev1@example.com")
    dev_user.email = "dev1@example.com"
    return dev_user


def work(queue) -> None:
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def approve(make_request, devops_user, user):
    request = make_request(user=user)
    provisioning_services.approve_request(actor=devops_user, request=request, note="have fun")
    return request


@pytest.mark.django_db
def test_the_email_reaches_a_real_smtp_server(smtp_server, notifications_queue, make_request, devops_user, emailed_dev):
    approve(make_request, devops_user, emailed_dev)
    work(notifications_queue)
    (message,) = smtp_server.messages
    assert message["To"] == "dev1@example.com"
    assert message["Subject"].startswith("[CloudAssist] Approved:")
    assert "have fun" in message.get_body(preferencelist=("plain",)).get_content()
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)
    assert delivery.sent_at is not None


@pytest.mark.django_db
def test_the_webhook_is_signed_and_goes_to_the_role_url(
    webhook_server, notifications_queue, make_request, devops_user, dev_user
):
    from django.contrib.auth.models import Group

    RoleWebhook.objects.create(role=Group.objects.get(name="dev"), url=webhook_server.url)
    services.update_settings(user=dev_user, channels={Kind.REQUEST_APPROVED: ["webhook", "in_app"]})
    approve(make_request, devops_user, dev_user)
    work(notifications_queue)
    (received,) = webhook_server.requests
    assert webhook_server.verify(received)
    assert "Approved" in received.json()["text"]
    assert received.json()["cloudassist"]["kind"] == Kind.REQUEST_APPROVED
    assert Delivery.objects.get(channel="webhook").status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_a_failing_smtp_server_that_comes_back_gets_the_delivery_on_retry(
    smtp_server, notifications_queue, make_request, devops_user, emailed_dev
):
    smtp_server.fail_next(1, code=451)
    approve(make_request, devops_user, emailed_dev)
    work(notifications_queue)
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert "451" in delivery.last_error
    assert smtp_server.messages == []

    assert services.sweep()["enqueued"] == 0  # backing off
    assert delivery.next_attempt_at - timezone.now() > timedelta(seconds=25)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # ... 30 s later
    assert services.sweep()["enqueued"] == 1
    work(notifications_queue)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db
def test_permanent_failures_stop_and_stay_visible_and_can_be_resent(
    webhook_server, notifications_queue, make_request, devops_user, dev_user
):
    services.update_settings(
        user=dev_user, channels={Kind.REQUEST_APPROVED: ["webhook"]}, webhook_url=webhook_server.url
    )
    webhook_server.respond_with(404, times=1)
    approve(make_request, devops_user, dev_user)
    work(notifications_queue)
    delivery = Delivery.objects.get(channel="webhook")
    assert delivery.status == DeliveryStatus.FAILED
    assert "404" in delivery.last_error
    assert services.sweep(now=timezone.now() + timedelta(hours=2))["enqueued"] == 0
    services.resend(delivery=delivery)
    work(notifications_queue)
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_two_workers_never_send_the_same_delivery(smtp_server, make_request, devops_user, emailed_dev):
    approve(make_request, devops_user, emailed_dev)
    delivery = Delivery.objects.get(channel="email")
    assert services.deliver(delivery.pk) == "sent"
    assert services.deliver(delivery.pk) == "skipped: SENT"
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db
def test_with_redis_down_at_the_event_the_email_goes_out_after_redis_returns(
    smtp_server, settings, make_request, devops_user, emailed_dev
):
    data_dir = Path(tempfile.mkdtemp(prefix="cloudassist-redis-"))
    redis_server = embedded.EmbeddedRedis(data_dir=data_dir)
    redis_server.persist = False
    redis_server.start()
    try:
        settings.RQ_QUEUES = {name: {**config, "URL": redis_server.url} for name, config in settings.RQ_QUEUES.items()}
        redis_server.stop()  # Redis goes down ...

        approve(make_request, devops_user, emailed_dev)  # ... the event happens, the enqueue fails
        delivery = Delivery.objects.get(channel="email")
        assert delivery.status == DeliveryStatus.PENDING

        redis_server.start()  # Redis is back (same port): the sweep finds the pending delivery
        queue = django_rq.get_queue(services.QUEUE)
        assert queue.count == 0
        assert services.sweep(now=timezone.now() + timedelta(minutes=1))["enqueued"] == 1
        work(queue)
        assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT
        assert len(smtp_server.messages) == 1
    finally:
        redis_server.stop()
        embedded.remove_data(data_dir)


@pytest.mark.django_db
def test_a_resend_during_a_send_is_not_overwritten_by_the_older_attempt(make_request, devops_user, emailed_dev):
    approve(make_request, devops_user, emailed_dev)
    delivery = Delivery.objects.get(channel="email")
    claimed, _ = services._claim(delivery.pk, now=timezone.now())  # a worker starts sending ...
    services.resend(delivery=Delivery.objects.get(pk=delivery.pk))  # ... an admin resends meanwhile ...
    services._finish(claimed, 1, status=DeliveryStatus.FAILED, error="boom", now=timezone.now())  # ... it fails
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.PENDING, 0, "")


@pytest.mark.django_db
def test_a_webhook_to_an_address_not_allowed_at_send_time_fails_and_says_so(
    webhook_server, notifications_queue, make_request, devops_user, dev_user, settings
):
    services.update_settings(  # saved while the loopback receiver was allowed ...
        user=dev_user, channels={Kind.REQUEST_APPROVED: ["webhook"]}, webhook_url=webhook_server.url
    )
    settings.WEBHOOK_ALLOWED_NETWORKS = []  # ... then no longer: the send-time check refuses it
    approve(make_request, devops_user, dev_user)
    work(notifications_queue)
    delivery = Delivery.objects.get(channel="webhook")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)  # permanent: not retried
    assert delivery.last_error == f"address not allowed for webhooks: {webhook_server.base_url} is a loopback address"
    assert webhook_server.requests == []


@pytest.mark.django_db
def test_last_error_says_what_failed_without_the_remote_body(
    webhook_server, notifications_queue, make_request, devops_user, dev_user
):
    services.update_settings(
        user=dev_user, channels={Kind.REQUEST_APPROVED: ["webhook"]}, webhook_url=webhook_server.url
    )
    webhook_server.respond_with(500, body="# HELP internal_metric secret-looking-body")
    approve(make_request, devops_user, dev_user)
    work(notifications_queue)
    delivery = Delivery.objects.get(channel="webhook")
    assert delivery.status == DeliveryStatus.PENDING  # a 500 is retried
    assert delivery.last_error == f"{webhook_server.base_url} answered HTTP 500"


@pytest.mark.django_db
def test_no_webhook_secret_reaches_a_log(webhook_server, notifications_queue, make_request, devops_user, dev_user):
    from cloudassist.testing.logcapture import capture_logs

    services.update_settings(
        user=dev_user, channels={Kind.REQUEST_APPROVED: ["webhook"]}, webhook_url=webhook_server.url
    )
    webhook_server.respond_with(503, times=1)
    with capture_logs() as logs:
        approve(make_request, devops_user, dev_user)
        work(notifications_queue)  # 503: retried later
        services.deliver(Delivery.objects.get(channel="webhook").pk, now=timezone.now() + timedelta(hours=1))
    assert Delivery.objects.get(channel="webhook").status == DeliveryStatus.SENT
    signatures = [request.headers["X-CloudAssist-Signature"] for request in webhook_server.requests]
    assert len(signatures) == 2
    text = logs.text()
    assert "notifications.jobs.deliver" in text  # the capture works: the worker's job lines are there
    for secret in ("secret-token-in-path", webhook_server.secret, *signatures):
        assert secret not in text


# --- the sweep and the queue: at most one job per delivery -----------------------------------------


def _queued_ids(queue) -> list[str]:
    ids = queue.job_ids
    assert queue.count == len(ids)
    return ids


@pytest.mark.django_db
def test_with_no_worker_running_the_sweep_keeps_one_queue_entry_per_delivery(
    webhook_server, notifications_queue, make_request, devops_user, emailed_dev
):
    services.update_settings(
        user=emailed_dev, channels={Kind.REQUEST_APPROVED: ["email", "webhook"]}, webhook_url=webhook_server.url
    )
    for _ in range(4):  # the notifications worker is paused: nothing drains the queue
        approve(make_request, devops_user, emailed_dev)
    deliveries = {f"deliver-{pk}" for pk in Delivery.objects.values_list("pk", flat=True)}
    assert len(deliveries) >= 8  # 4 emails and 4 webhooks to the developer, and DevOps' own
    assert sorted(_queued_ids(notifications_queue)) == sorted(deliveries)

    start = timezone.now()
    for sweep in range(1, 4):  # each sweep long after the last one, past any lease
        now = start + sweep * (services.SENDING_LEASE + timedelta(minutes=1))
        assert services.sweep(now=now)["enqueued"] == 0
        queued = _queued_ids(notifications_queue)
        assert len(queued) == len(set(queued)) == len(deliveries)

    work(notifications_queue)  # the worker comes back: each delivery is tried once
    assert _queued_ids(notifications_queue) == []
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
    assert len(webhook_server.requests) == 4


@pytest.mark.django_db
def test_the_sweep_enqueues_a_delivery_whose_job_is_lost_or_lost_its_worker(
    smtp_server, notifications_queue, make_request, devops_user, emailed_dev
):
    from rq.job import JobStatus

    approve(make_request, devops_user, emailed_dev)
    deliveries = sorted(f"deliver-{pk}" for pk in Delivery.objects.values_list("pk", flat=True))
    notifications_queue.empty()  # Redis lost the queue and its jobs
    later = timezone.now() + timedelta(minutes=1)
    assert services.sweep(now=later)["enqueued"] == len(deliveries)
    assert sorted(_queued_ids(notifications_queue)) == deliveries

    # A worker takes the developer's email, claims it and is killed: its job stays "started" and its
    # heartbeat stops. Another job is started by a live worker (a fresh heartbeat).
    email = Delivery.objects.get(channel="email", notification__recipient=emailed_dev)
    lost = notifications_queue.fetch_job(f"deliver-{email.pk}")
    notifications_queue.remove(lost)
    lost.set_status(JobStatus.STARTED)
    lost.heartbeat(timezone.now() - timedelta(minutes=10), ttl=3600)
    services._claim(email.pk, now=later)

    after_lease = later + services.SENDING_LEASE + timedelta(seconds=1)
    assert services.sweep(now=after_lease)["enqueued"] == 1
    queued = _queued_ids(notifications_queue)
    assert sorted(queued) == deliveries

    running = notifications_queue.fetch_job(queued[0])  # taken by a live worker meanwhile
    notifications_queue.remove(running)
    running.set_status(JobStatus.STARTED)
    running.heartbeat(timezone.now(), ttl=3600)
    assert services.sweep(now=after_lease + services.SENDING_LEASE)["enqueued"] == 0
    assert len(_queued_ids(notifications_queue)) == len(deliveries) - 1


# --- the status write after a send ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_status_write_that_fails_once_after_the_send_is_retried_and_nothing_is_sent_twice(
    smtp_server, make_request, devops_user, emailed_dev
):
    from django.db import connection

    admin = connection.connection.admin  # the real server: an election strikes right after the send
    approve(make_request, devops_user, emailed_dev)
    delivery = Delivery.objects.get(channel="email", notification__recipient=emailed_dev)

    def election():  # "not primary" for the next update, as in a stepdown
        admin.command(
            "configureFailPoint", "failCommand", mode={"times": 1}, data={"failCommands": ["update"], "errorCode": 189}
        )

    smtp_server.after_accept = election
    try:
        assert services.deliver(delivery.pk) == "sent"
    finally:
        hits = admin.command("configureFailPoint", "failCommand", mode="off")["count"]
    assert hits == 1  # the first status write did fail
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)
    assert services.sweep(now=timezone.now() + timedelta(hours=1))["enqueued"] == 0
    assert len(smtp_server.messages) == 1
