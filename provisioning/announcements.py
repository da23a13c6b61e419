"""What each provisioning event says, and to whom; the notifications app only stores and
delivers. Called by the services inside the transaction that writes the event, so a
notification exists exactly when its event does. The expiry warnings are swept from here too
(provisioning.provisioner.sweep)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from cloudassist.mongodb.counting import fast_count
from cloudassist.selectors import attach_related
from notifications.choices import Kind
from notifications.models import ExpiryWarning
from notifications.selectors import notified_since
from notifications.services import devops_users, notify, notify_queue
from provisioning import wording
from provisioning.choices import LIVE, ExtensionStatus, RequestStatus
from provisioning.models import ExtensionRequest, ProvisionRequest


def _url(name: str, pk) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name, args=[pk])


def _request_url(request) -> str:
    """Developers' link: the request's page in the portal (its API URL is in the page)."""
    return _url("portal:request", request.pk)


def _review_url(model: str, pk) -> str:
    """DevOps' link: the admin change page, where they approve, reject, purge or retry."""
    return _url(f"admin:provisioning_{model}_change", pk)


def _describe(request) -> str:
    """The request as people name it: “its description” (its template), else its template's name
    (never its id: the link leads to it)."""
    name = (request.template_snapshot or {}).get("name") or request.template_id
    description = " ".join((request.description or "").split())
    if not description:
        return str(name)
    if len(description) > 60:
        description = description[:59].rstrip() + "…"
    return f"“{description}” ({name})"


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


def request_decided(request, *, approved: bool, note: str = "") -> None:
    if approved:
        kind, verdict, then = Kind.REQUEST_APPROVED, "Approved", " was approved; provisioning starts now."
    else:
        kind, verdict, then = Kind.REQUEST_REJECTED, "Rejected", " was rejected."
    _to_requester(
        request,
        kind,
        f"{verdict}: {_describe(request)}",
        _with_note(f"Your request {_describe(request)}{then}", note),
    )


def provisioned(request, *, secret_kind: str | None) -> None:
    kind = secret_kind or "credentials"
    download = settings.SITE_URL.rstrip("/") + reverse("portal:request-download", args=[request.pk, kind])
    link = download if secret_kind else _request_url(request)
    _to_requester(
        request,
        Kind.PROVISIONED,
        f"Ready: {_describe(request)}",
        f"Your environment {_describe(request)} is ready. Download its {kind} from the link "
        f"(sign in first). It expires {_expiry(request)}.",
        link=link,
    )


def provision_failed(request, *, note: str, retry_window: bool = False) -> None:
    if retry_window:
        then = (
            f"Whatever was created is kept for {settings.FAILED_PURGE_DELAY_MINUTES} minutes so that a retry "
            "can carry on from it (DevOps can retry, or you if the template allows), then removed."
        )
    else:
        then = "Whatever was created is being removed."
    _to_requester(
        request,
        Kind.PROVISION_FAILED,
        f"Failed: {_describe(request)}",
        f"Provisioning {_describe(request)} failed: {note}\n{then}",
    )


def retried(request, *, actor, note: str = "") -> None:
    """Someone else (DevOps) retried the requester's failed provisioning."""
    _to_requester(
        request,
        Kind.REQUEST_APPROVED,
        f"Retrying: {_describe(request)}",
        _with_note(f"{actor.get_username()} retries provisioning {_describe(request)}; it starts now.", note),
    )


def cleaned_up(request, *, note: str) -> None:
    """DevOps closed a failed purge after deleting what was left by hand."""
    _to_requester(
        request,
        Kind.PURGED,
        f"Deleted: {_describe(request)}",
        _with_note(f"Your environment {_describe(request)} was cleaned up by DevOps and is closed.", note),
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


def expired(request, *, purge_after: datetime | None = None) -> None:
    if purge_after is None:
        body = f"Your environment {_describe(request)} expired and is being deleted."
    else:
        body = (
            f"Your environment {_describe(request)} expired. It is kept until "
            f"{purge_after:%Y-%m-%d %H:%M} UTC and then deleted; until then DevOps can still extend it "
            "(you can no longer ask for an extension yourself)."
        )
    _to_requester(request, Kind.EXPIRED, f"Expired: {_describe(request)}", body)


def extended_expired(request, *, actor, note: str = "") -> None:
    _to_requester(
        request,
        Kind.EXTENSION_APPROVED,
        f"Extended: {_describe(request)}",
        _with_note(
            f"{actor.get_username()} extended your expired environment {_describe(request)}; it is kept and now "
            f"expires {_expiry(request)}.",
            note,
        ),
    )


def timed_out(request, *, reason: str) -> None:
    """To the requester and to DevOps: nobody reviewed it in time; its hold is released."""
    title = f"Timed out: {_describe(request)}"
    _to_requester(
        request,
        Kind.REQUEST_TIMED_OUT,
        title,
        f"Your request {_describe(request)} was not reviewed in time and will not be provisioned: {reason} "
        "What it held on your quota is released; submit a new request if you still need it.",
    )
    _to_devops(
        request,
        Kind.REQUEST_TIMED_OUT,
        title,
        f"The request {_describe(request)} from {request.requested_by.get_username()} timed out unreviewed: {reason}",
        asked_by=request.requested_by_id,
    )


def approval_recorded(request, *, approvals: list[dict], required: int) -> None:
    """One approval of several: the review queue of the reviewers who have not approved yet says so."""
    approved_by = {entry.get("user_id") for entry in approvals}
    names = ", ".join(entry.get("username", "?") for entry in approvals)
    request.approvals, request.required_approvals = approvals, required
    _review_queue(
        request,
        f"{_describe(request)}: {wording.waiting_for_approval(request)} Approved so far by {names}.",
        recipients=[
            user for user in devops_users() if user.pk != request.requested_by_id and str(user.pk) not in approved_by
        ],
    )


def _review_queue(request, latest: str, *, recipients: list) -> None:
    """DevOps' one shared review-queue item (notify_queue): how many requests wait, and the latest news."""
    waiting = fast_count(ProvisionRequest.objects.filter(status=RequestStatus.REQUESTED))
    notify_queue(
        recipients=recipients,
        kind=Kind.REVIEW_REQUEST,
        title=f"To review: {waiting} request{'' if waiting == 1 else 's'} waiting",
        body=f"Latest: {latest}",
        link=settings.SITE_URL.rstrip("/") + reverse("admin:provisioning_provisionrequest_changelist"),
        provision_request=request,
    )


def purged(request) -> None:
    _to_requester(
        request, Kind.PURGED, f"Deleted: {_describe(request)}", f"Your environment {_describe(request)} was deleted."
    )


def drifted(request, *, missing: list[str]) -> None:
    """To the requester and DevOps: a deployed environment's resources are gone (the reconcile job
    found it, provisioning/reconciliation.py). Sent when what is missing changes, never again for the same."""
    listed = "\n".join(f"- {item}" for item in missing)
    title = f"Resources missing: {_describe(request)}"
    _to_requester(
        request,
        Kind.DRIFTED,
        title,
        f"Your environment {_describe(request)} is deployed, but these of its resources no longer exist:\n{listed}\n"
        "Someone may have deleted them outside CloudAssist. DevOps are told too.",
    )
    _to_devops(
        request,
        Kind.DRIFTED,
        title,
        f"{_describe(request)} of {request.requested_by.get_username()} is DEPLOYED but its resources are "
        f"missing:\n{listed}\nPurge it, or recreate what is missing by hand.",
        asked_by=request.requested_by_id,
    )


def _to_devops(request, kind: str, title: str, body: str, *, link: str | None = None, asked_by=None) -> None:
    """To every DevOps engineer but the one who asked (nobody reviews their own request)."""
    notify(
        recipients=[user for user in devops_users() if asked_by is None or user.pk != asked_by],
        kind=kind,
        title=title,
        body=body,
        link=link or _review_url("provisionrequest", request.pk),
        provision_request=request,
    )


def review_request(request) -> None:
    estimate = (request.cost_estimate or {}).get("usd", "?")
    requester = request.requested_by.get_username()
    _review_queue(
        request,
        f"{requester} requests {_describe(request)} (estimate ${estimate}, "
        f"{request.request_type.lower()}, expires {_expiry(request)}).",
        recipients=[user for user in devops_users() if user.pk != request.requested_by_id],
    )


def review_extension(extension, request) -> None:
    waiting = fast_count(ExtensionRequest.objects.filter(status=ExtensionStatus.REQUESTED))
    notify_queue(
        recipients=[user for user in devops_users() if user.pk != extension.requested_by_id],
        kind=Kind.REVIEW_EXTENSION,
        title=f"To review: {waiting} extension{'' if waiting == 1 else 's'} waiting",
        body=f"Latest: {extension.requested_by.get_username()} asks to extend {_describe(request)} by "
        f"{extension.extend_by_hours} h: {extension.reason}",
        link=_review_url("extensionrequest", extension.pk),
        provision_request=request,
    )


def purge_failed(request, *, note: str, now: datetime | None = None) -> bool:
    """Tell DevOps, at most once an hour per request until it is resolved."""
    now = now or timezone.now()
    if notified_since(kind=Kind.PURGE_FAILED, provision_request=request, since=now - timedelta(hours=1)):
        return False
    _to_devops(
        request,
        Kind.PURGE_FAILED,
        f"Purge failed: {_describe(request)}",
        f"Deleting {_describe(request)} failed: {note}\nIt is retried with backoff; check the cloud account.",
    )
    return True


# A warning comes at the latest of its lead time and this share of the lease before expiry: an
# 8-hour lease hears of it 48 minutes before the end, not "expires in 8 h" the second it is ready.
LEASE_SHARE = 0.1


def warning_due(request, lead_minutes: int, *, now: datetime) -> bool:
    """Whether the warning ``lead_minutes`` before expiry is due now: at the later of that lead and
    LEASE_SHARE of the lease (submission to expiry) before the end."""
    lease = request.expires_at - request.created_at if request.created_at else timedelta(minutes=lead_minutes)
    lead = min(timedelta(minutes=lead_minutes), lease * LEASE_SHARE)
    return request.expires_at - now <= lead


def warn_expiring(*, now: datetime | None = None) -> int:
    """Warn each requester once per lead time (NOTIFY_EXPIRY_LEAD_HOURS, e.g. 24 and 1) before
    expiry, each at the later of its lead and a tenth of the lease before the end (``warning_due``).
    When several lead times are due at once only the most urgent is sent; an extension (a new
    expires_at) arms the warnings again."""
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
            if not warning_due(request, lead, now=now):
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
            minutes = max(round(left.total_seconds() / 60), 1)
            within = f"{minutes} min" if minutes < 60 else f"{round(minutes / 60, 1):g} h"
            _to_requester(
                request,
                Kind.EXPIRY_WARNING,
                f"Expires in {within}: {_describe(request)}",
                f"Your environment {_describe(request)} expires {_expiry(request)} and will then be deleted. "
                "You may ask once for an extension.",
            )
            sent += 1
    return sent
