"""What each event says, and to whom. Called by the services inside the transaction that
writes the event, so a notification exists exactly when its event does."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from cloudassist.selectors import attach_related
from notifications.choices import Kind
from notifications.models import ExpiryWarning, Notification
from notifications.services import devops_users, notify


def _url(name: str, pk) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name, args=[pk])


def _request_url(request) -> str:
    return _url("provisionrequest-detail", request.pk)


def _describe(request) -> str:
    name = (request.template_snapshot or {}).get("name") or request.template_id
    return f"{name} ({request.pk})"


def _expiry(request) -> str:
    return request.expires_at.strftime("%Y-%m-%d %H:%M UTC") if request.expires_at else "never (permanent)"


def _with_note(text: str, note: str) -> str:
    return f"{text}\n\nNote from the reviewer: {note}" if note else text


def _to_requester(request, kind: str, title: str, body: str, *, link: str | None = None) -> None:
    notify(
        recipients=[request.requested_by],
        kind=kind,
        title=title,
        body=body,
        link=link or _request_url(request),
        provision_request=request,
    )


def request_approved(request, *, note: str = "") -> None:
    _to_requester(
        request,
        Kind.REQUEST_APPROVED,
        f"Approved: {_describe(request)}",
        _with_note(f"Your request {_describe(request)} was approved; provisioning starts now.", note),
    )


def request_rejected(request, *, note: str) -> None:
    _to_requester(
        request,
        Kind.REQUEST_REJECTED,
        f"Rejected: {_describe(request)}",
        _with_note(f"Your request {_describe(request)} was rejected.", note),
    )


def provisioned(request, *, secret_kind: str | None) -> None:
    kind = secret_kind or "credentials"
    link = _url(f"provisionrequest-{kind}", request.pk) if secret_kind else _request_url(request)
    _to_requester(
        request,
        Kind.PROVISIONED,
        f"Ready: {_describe(request)}",
        f"Your environment {_describe(request)} is ready. Download its {kind} from the link "
        f"(sign in first). It expires {_expiry(request)}.",
        link=link,
    )


def provision_failed(request, *, note: str) -> None:
    _to_requester(
        request,
        Kind.PROVISION_FAILED,
        f"Failed: {_describe(request)}",
        f"Provisioning {_describe(request)} failed: {note}\nWhatever was created is being removed.",
    )


def extension_decided(extension, request, *, approved: bool, note: str = "") -> None:
    verdict = "approved" if approved else "rejected"
    body = f"Your request to extend {_describe(request)} by {extension.extend_by_hours} h was {verdict}."
    if approved:
        body += f" It now expires {_expiry(request)}."
    _to_requester(
        request,
        Kind.EXTENSION_APPROVED if approved else Kind.EXTENSION_REJECTED,
        f"Extension {verdict}: {_describe(request)}",
        _with_note(body, note),
    )


def expired(request) -> None:
    _to_requester(
        request,
        Kind.EXPIRED,
        f"Expired: {_describe(request)}",
        f"Your environment {_describe(request)} expired and is being deleted.",
    )


def purged(request) -> None:
    _to_requester(
        request, Kind.PURGED, f"Deleted: {_describe(request)}", f"Your environment {_describe(request)} was deleted."
    )


def review_request(request) -> None:
    estimate = (request.cost_estimate or {}).get("usd", "?")
    notify(
        recipients=[user for user in devops_users() if user.pk != request.requested_by_id],
        kind=Kind.REVIEW_REQUEST,
        title=f"To review: {_describe(request)} from {request.requested_by.get_username()}",
        body=f"{request.requested_by.get_username()} requests {_describe(request)} (estimate ${estimate}, "
        f"{request.request_type.lower()}, expires {_expiry(request)}).",
        link=_request_url(request),
        provision_request=request,
    )


def review_extension(extension, request) -> None:
    notify(
        recipients=[user for user in devops_users() if user.pk != extension.requested_by_id],
        kind=Kind.REVIEW_EXTENSION,
        title=f"To review: +{extension.extend_by_hours} h for {_describe(request)}",
        body=f"{extension.requested_by.get_username()} asks to extend {_describe(request)} by "
        f"{extension.extend_by_hours} h: {extension.reason}",
        link=_url("extensionrequest-detail", extension.pk),
        provision_request=request,
    )


def purge_failed(request, *, note: str, now: datetime | None = None) -> bool:
    """Tell DevOps, at most once an hour per request until it is resolved."""
    now = now or timezone.now()
    recent = Notification.objects.filter(
        kind=Kind.PURGE_FAILED, provision_request=request, created_at__gte=now - timedelta(hours=1)
    ).exists()
    if recent:
        return False
    notify(
        recipients=devops_users(),
        kind=Kind.PURGE_FAILED,
        title=f"Purge failed: {_describe(request)}",
        body=f"Deleting {_describe(request)} failed: {note}\nIt is retried with backoff; check the cloud account.",
        link=_request_url(request),
        provision_request=request,
    )
    return True


def warn_expiring(*, now: datetime | None = None) -> int:
    """Warn each requester once per lead time (NOTIFY_EXPIRY_LEAD_HOURS, e.g. 24 and 1) before
    expiry. When several lead times are due at once only the most urgent is sent; an
    extension (a new expires_at) arms the warnings again."""
    from provisioning.choices import LIVE
    from provisioning.models import ProvisionRequest

    now = now or timezone.now()
    leads = sorted({int(hours * 60) for hours in settings.NOTIFY_EXPIRY_LEAD_HOURS})
    if not leads:
        return 0
    # On the (status, expires_at) index, no $lookup and no sort; the requesters in one query.
    due = list(
        ProvisionRequest.objects.filter(
            status__in=LIVE, expires_at__gt=now, expires_at__lte=now + timedelta(minutes=leads[-1])
        ).order_by()
    )
    attach_related(due, "requested_by")
    sent = 0
    for request in due:
        fresh = []
        for lead in leads:
            if request.expires_at > now + timedelta(minutes=lead):
                continue
            try:
                ExpiryWarning.objects.create(
                    provision_request=request, lead_minutes=lead, expires_at=request.expires_at
                )
                fresh.append(lead)
            except IntegrityError:
                continue  # already warned (or a concurrent sweep just did)
        if fresh:
            left = request.expires_at - now
            hours = max(round(left.total_seconds() / 3600, 1), 0.1)
            _to_requester(
                request,
                Kind.EXPIRY_WARNING,
                f"Expires in {hours:g} h: {_describe(request)}",
                f"Your environment {_describe(request)} expires {_expiry(request)} and will then be deleted. "
                "You may ask once for an extension.",
            )
            sent += 1
    return sent
