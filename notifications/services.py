"""The outbox: write notifications with the events they announce, deliver them by id, and
sweep what is due. A Notification row is the in-app channel (the API lists it); each
email or webhook delivery is a Delivery row with its own status, attempts and last error.
Nothing is lost when Redis is down: rows are written first, jobs only point at them, and
the sweep enqueues every delivery that is still pending and has no job waiting or running.
Delivery is at least once: a second send needs a crash between a send and its status write.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.utils import timezone
from django_mongodb_backend.transaction import on_commit
from rq.job import Job

from cloudassist import db, logs, queues, roles
from notifications import channels, metrics
from notifications.channels import destinations
from notifications.choices import DEFAULT_CHANNELS, DEFAULT_CHANNELS_BY_KIND, Channel, DeliveryStatus
from notifications.models import Delivery, Notification, NotificationSettings, RoleWebhook

logger = logging.getLogger(__name__)

User = get_user_model()
SENDING_LEASE = timedelta(minutes=5)  # a delivery being sent is not picked up again before this
# Deliveries have their own queue and worker: a slow SMTP server never holds back provisioning.
QUEUE = "notifications"
DELIVER_JOB = "notifications.jobs.deliver"
WAITING_JOB_STATES = ("queued", "deferred", "scheduled")  # and "started" while its worker's heartbeat lasts
# MongoDB's "retry this" codes on a plain write: not primary (10107, 13435, 189), node recovering or
# shutting down (11600, 11602, 91, 13436), network trouble reported by the server (6, 7, 89, 9001, 262).
RETRYABLE_WRITE_CODES = frozenset({6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})
STATUS_WRITE_ATTEMPTS = 6  # with server selection's own wait (MONGODB_TIMEOUT_MS) each: an election fits


def channels_for(user, kind: str) -> list[str]:
    prefs = NotificationSettings.objects.filter(user=user).values_list("channels", flat=True).first() or {}
    chosen = prefs.get(kind, DEFAULT_CHANNELS_BY_KIND.get(kind, DEFAULT_CHANNELS))
    return [name for name in chosen if name in Channel.values]


def devops_users() -> list:
    """Who gets the DevOps notifications: active members of the devops role (no join and no
    distinct(): the role, its memberships, then the users by primary key)."""
    group_ids = list(Group.objects.filter(name=roles.DEVOPS).order_by().values_list("pk", flat=True))
    if not group_ids:
        return []
    memberships = User.groups.through.objects.filter(group_id__in=group_ids).order_by()
    user_ids = set(memberships.values_list("user_id", flat=True))
    if not user_ids:
        return []
    return sorted(User.objects.filter(pk__in=list(user_ids), is_active=True).order_by(), key=lambda user: user.pk)


def notify(
    *,
    recipients: Iterable,
    kind: str,
    title: str,
    body: str,
    link: str = "",
    provision_request=None,
) -> list[Notification]:
    """Write a notification (and its email/webhook deliveries) for each recipient; the
    deliveries are enqueued once the surrounding transaction has committed."""
    created: list[Notification] = []
    delivery_ids: list = []
    for recipient in {user.pk: user for user in recipients if user is not None}.values():
        notification = Notification.objects.create(
            recipient=recipient,
            kind=kind,
            title=title[:200],
            body=body,
            link=link,
            provision_request=provision_request,
        )
        created.append(notification)
        for channel in channels_for(recipient, kind):
            if channel == Channel.IN_APP:
                continue  # the notification list is the in-app channel
            delivery = Delivery.objects.create(notification=notification, channel=channel)
            delivery_ids.append(delivery.pk)
    if delivery_ids:
        on_commit(lambda: enqueue_deliveries(delivery_ids), robust=True)
    return created


def notify_queue(
    *,
    recipients: Iterable,
    kind: str,
    title: str,
    body: str,
    link: str = "",
    provision_request=None,
) -> int:
    """A shared queue (the requests waiting for review) as one unread item per recipient: their
    unread item of ``kind`` says the queue as it is now (rewritten in place, newest again), or a new
    one once they have read it. Email and webhooks go only to those whose settings ask for them
    for ``kind`` (off by default: ``DEFAULT_CHANNELS_BY_KIND``). Returns how many were rewritten."""
    now = timezone.now()
    rewritten = 0
    delivery_ids: list = []
    fields = {"title": title[:200], "body": body, "link": link, "provision_request": provision_request}
    for recipient in {user.pk: user for user in recipients if user is not None}.values():
        current = Notification.objects.filter(recipient=recipient, kind=kind, read_at=None).order_by()
        pk = current.values_list("pk", flat=True).first()
        if pk is not None and Notification.objects.filter(pk=pk, read_at=None).update(created_at=now, **fields):
            rewritten += 1
        else:
            pk = Notification.objects.create(recipient=recipient, kind=kind, **fields).pk
        for channel in channels_for(recipient, kind):
            if channel != Channel.IN_APP:
                delivery_ids.append(Delivery.objects.create(notification_id=pk, channel=channel).pk)
    if delivery_ids:
        on_commit(lambda: enqueue_deliveries(delivery_ids), robust=True)
    return rewritten


def _job_id(delivery_id) -> str:
    return f"deliver-{delivery_id}"


def _needs_job(job: Job | None, *, stale: datetime) -> bool:
    """Whether a delivery whose rq job is ``job`` needs a new one: no job (never enqueued, or Redis
    lost it), a finished or failed one, or one started by a worker whose heartbeat stopped (killed).
    A job still waiting in the queue, or running, is left alone: enqueueing it again would put a
    second copy of its id in the queue (rq does not deduplicate), the backlog feeding itself."""
    if job is None:
        return True
    state = job.get_status(refresh=False)
    if state in WAITING_JOB_STATES:
        return False
    if state != "started":
        return True
    heartbeat = job.last_heartbeat or job.started_at
    if heartbeat is not None and timezone.is_naive(heartbeat):
        heartbeat = heartbeat.replace(tzinfo=UTC)  # rq writes UTC
    return heartbeat is not None and heartbeat < stale


def enqueue_deliveries(delivery_ids: Iterable) -> int:
    """One ``notifications.jobs.deliver`` job per delivery (named by its dotted path, which rq
    imports when it runs it: the jobs call these services, not the other way round), with a
    deterministic job id: a delivery whose job is waiting or running is not enqueued again."""
    count = 0
    try:
        job_ids = [_job_id(delivery_id) for delivery_id in delivery_ids]
        with queues.queue(QUEUE) as queue:  # Redis down or hung: at most REDIS_TIMEOUT_SECONDS
            jobs = Job.fetch_many(job_ids, connection=queue.connection, serializer=queue.serializer) if job_ids else []
            stale = timezone.now() - timedelta(seconds=settings.STALE_JOB_SECONDS)
            for job_id, job in zip(job_ids, jobs, strict=True):
                if not _needs_job(job, stale=stale):
                    continue
                queue.enqueue(DELIVER_JOB, job_id.removeprefix("deliver-"), job_id=job_id, meta=logs.job_meta())
                count += 1
    except Exception:
        logger.warning("Could not enqueue deliveries; the sweep will", exc_info=True)
    return count


def _webhook_url(user) -> str:
    own = NotificationSettings.objects.filter(user=user).values_list("webhook_url", flat=True).first()
    if own:
        return own
    return RoleWebhook.objects.filter(role__in=user.groups.all()).values_list("url", flat=True).first() or ""


def _message(delivery: Delivery) -> channels.Message:
    notification = delivery.notification
    recipient = notification.recipient
    return channels.Message(
        notification_id=str(notification.pk),
        kind=notification.kind,
        title=notification.title,
        body=notification.body,
        link=notification.link,
        recipient_username=recipient.get_username(),
        recipient_email=recipient.email or "",
        webhook_url=_webhook_url(recipient) if delivery.channel == Channel.WEBHOOK else "",
    )


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... at most an hour."""
    return min(timedelta(seconds=settings.NOTIFY_RETRY_SECONDS * 2 ** max(attempts - 1, 0)), timedelta(hours=1))


def deliver(delivery_id, *, now: datetime | None = None) -> str:
    """Send one delivery. Claimed with a compare-and-set on its attempts, so two workers never
    send the same one; a temporary failure is retried with backoff by the sweep."""
    now = now or timezone.now()
    delivery, skipped = _claim(delivery_id, now=now)
    if delivery is None:
        return skipped
    attempts = delivery.attempts + 1
    try:
        channels.get(delivery.channel).send(_message(delivery))
    except channels.PermanentChannelError as exc:
        _finish(delivery, attempts, status=DeliveryStatus.FAILED, error=str(exc), now=now)
        metrics.delivery(channel=delivery.channel, outcome="failed")
        return "failed"
    except channels.ChannelError as exc:
        if attempts >= settings.NOTIFY_MAX_ATTEMPTS:
            error = f"gave up after {attempts} attempts: {exc}"
            _finish(delivery, attempts, status=DeliveryStatus.FAILED, error=error, now=now)
            metrics.delivery(channel=delivery.channel, outcome="failed")
            return "failed"
        error = str(exc)[:1000]
        _retried(
            lambda: _claimed(delivery, attempts).update(
                last_error=error, next_attempt_at=now + backoff(attempts), updated_at=now
            ),
            what=f"delivery {delivery.pk}: the retry time",
        )
        metrics.delivery(channel=delivery.channel, outcome="retry")
        return "retry later"
    _finish(delivery, attempts, status=DeliveryStatus.SENT, error="", now=now)
    metrics.delivery(channel=delivery.channel, outcome="sent")
    return "sent"


def _claim(delivery_id, *, now: datetime) -> tuple[Delivery | None, str]:
    # By primary key, no $lookup: the notification and its recipient are read by theirs when sent.
    delivery = next(iter(Delivery.objects.filter(pk=delivery_id).order_by()[:1]), None)
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return None, f"skipped: {getattr(delivery, 'status', 'missing')}"
    if delivery.next_attempt_at and delivery.next_attempt_at > now:
        return None, "not due"
    claimed = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts).update(
        attempts=F("attempts") + 1, next_attempt_at=now + SENDING_LEASE, updated_at=now
    )
    if not claimed:
        return None, "skipped: claimed by another worker"
    return delivery, ""


def is_retryable_write_error(exc: BaseException | None) -> bool:
    """Whether a failed write may simply be tried again: MongoDB unreachable or electing a primary
    (``db.is_unavailable``: pymongo's ``NotPrimaryError`` is one), a retryable code however the
    backend wrapped it, or a retryable label."""
    if exc is None:
        return False
    if db.is_unavailable(exc) or db.is_transient(exc):
        return True
    seen, depth = exc, 0
    while seen is not None and depth < 20:
        has_label = getattr(seen, "has_error_label", None)
        if getattr(seen, "code", None) in RETRYABLE_WRITE_CODES or (has_label and has_label("RetryableWriteError")):
            return True
        seen, depth = seen.__cause__ or seen.__context__, depth + 1
    return False


def _retried(write: Callable[[], int], *, what: str) -> int:
    """Run one idempotent write (a compare-and-set), again on MongoDB's retryable errors with a
    bounded backoff: a delivery's status after its send must survive an election, or the lease
    expires and the sweep sends it a second time."""
    for attempt in range(1, STATUS_WRITE_ATTEMPTS + 1):
        try:
            return write()
        except Exception as exc:
            if attempt == STATUS_WRITE_ATTEMPTS or not is_retryable_write_error(exc):
                raise
            logger.warning("%s failed (%s: %s), retrying (attempt %s)", what, type(exc).__name__, exc, attempt)
            time.sleep(min(0.05 * 2**attempt, 1.0) * random.uniform(0.5, 1.0))  # noqa: S311 -- jitter
    raise AssertionError("unreachable")


def _claimed(delivery: Delivery, attempts: int):
    """The delivery as this attempt claimed it: a resend meanwhile (attempts reset) wins."""
    return Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=attempts)


def _finish(delivery: Delivery, attempts: int, *, status: str, error: str, now: datetime) -> None:
    """The attempt's outcome, retried on an election: a compare-and-set on the claim, so a write that
    was applied before its error was reported matches nothing the second time."""
    _retried(
        lambda: _claimed(delivery, attempts).update(
            status=status,
            last_error=error[:1000],
            sent_at=now if status == DeliveryStatus.SENT else None,
            next_attempt_at=None,
            updated_at=now,
        ),
        what=f"delivery {delivery.pk}: status {status}",
    )


def due_deliveries(*, now: datetime | None = None, limit: int = 1000) -> list:
    """Pending deliveries whose retry time has passed, or never tried and older than 30 s. Each
    branch is one range of the delivery_due index (status, next_attempt_at, created_at), read in
    that index's order (the earliest due first); no sort over every pending row."""
    now = now or timezone.now()
    pending = DeliveryStatus.PENDING
    due = Q(status=pending, next_attempt_at__lte=now) | Q(
        status=pending, next_attempt_at=None, created_at__lte=now - timedelta(seconds=30)
    )
    return list(Delivery.objects.filter(due).order_by().values_list("pk", flat=True)[:limit])


def resend(*, delivery: Delivery) -> None:
    """Admin: send a failed (or sent) delivery again from scratch."""
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=None, last_error="", updated_at=timezone.now()
    )
    enqueue_deliveries([delivery.pk])


def mark_read(*, user, notification: Notification | None = None) -> int:
    """Mark one of the user's notifications (or all of them) read."""
    queryset = Notification.objects.filter(recipient=user, read_at=None)
    if notification is not None:
        queryset = queryset.filter(pk=notification.pk)
    return queryset.update(read_at=timezone.now())


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Enqueue the deliveries that are due and have no job waiting or running (what to announce is
    the announcing app's sweep)."""
    return {"enqueued": enqueue_deliveries(due_deliveries(now=now))}


def check_webhook_url(url: str, *, field: str = "webhook_url") -> None:
    """Refuse a webhook URL that can never be delivered to (not http(s), or an address webhooks may
    not reach): a Django ValidationError naming ``field``. Checked again at every send."""
    try:
        destinations.validate_url(url)
    except channels.PermanentChannelError as exc:
        raise ValidationError({field: [f"{str(exc)[:1].upper()}{str(exc)[1:]}."]}) from None


def update_settings(*, user, **fields) -> NotificationSettings:
    """Change a user's channels (merged per kind) or webhook URL (checked: ``check_webhook_url``)."""
    if fields.get("webhook_url"):
        check_webhook_url(fields["webhook_url"])
    row, _ = NotificationSettings.objects.get_or_create(user=user)
    if "channels" in fields:
        row.channels = {**row.channels, **fields.pop("channels")}
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    return row
