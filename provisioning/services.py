"""Provisioning use cases: submit, edit, approve, reject, revoke, and the one-time extension.

Every status change goes through ``transitions.transition`` (compare-and-set + audit Event
in one transaction). Callers pass the acting user, or None for the system.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cloudassist import logs, metrics
from cloudassist.db import run_atomic
from cloudassist.exceptions import Conflict
from provisioning import announcements, transitions
from provisioning.choices import LIVE, ExtensionSlot, RequestStatus, RequestType
from provisioning.models import MAX_EXTENSION_HOURS, MIN_EXTENSION_HOURS, ExtensionRequest, ProvisionRequest
from quotas import analysis, estimates
from quotas import services as quota_services
from quotas.choices import ReservationState
from templates import services as template_services
from templates.models import Template

logger = logging.getLogger(__name__)

PROVISIONING_QUEUE = "provisioning"
DEFAULT_QUEUE = "default"
WAITING_JOB_STATES = ("queued", "started", "scheduled", "deferred")


def resolve_expiry(
    *, template: Template, request_type: str, expires_at: datetime | None, now: datetime
) -> datetime | None:
    """TEMPORARY: in the future and within the template's maximum lifetime (default lifetime
    when omitted). PERMANENT: no expiry."""
    if request_type == RequestType.PERMANENT:
        if expires_at is not None:
            raise ValidationError({"expires_at": ["Permanent requests do not expire; leave expires_at out."]})
        return None
    if expires_at is None:
        return _to_millis(now + timedelta(hours=template.default_lifetime_hours))
    if expires_at <= now:
        raise ValidationError({"expires_at": ["Must be in the future."]})
    latest = now + timedelta(hours=template.max_lifetime_hours)
    if expires_at > latest:
        raise ValidationError(
            {
                "expires_at": [
                    f"Must be within the template's maximum lifetime of {template.max_lifetime_hours} hours "
                    f"(at the latest {latest.isoformat(timespec='seconds')})."
                ]
            }
        )
    return _to_millis(expires_at)


def _to_millis(moment: datetime) -> datetime:
    """MongoDB stores milliseconds; answer with what a later read will return."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Prepared:
    rendered: Any
    expires_at: datetime | None
    estimate: estimates.Estimate
    now: datetime


def prepare_request(*, template: Template, parameters: Any, request_type: str, expires_at: datetime | None) -> Prepared:
    """Everything a submission checks before it writes: active template, parameters, expiry, price."""
    if not template.is_active:
        raise ValidationError({"template": [f"Template '{template.pk}' is inactive and cannot be requested."]})
    rendered = template_services.render(template=template, parameters=parameters)
    now = timezone.now()
    expires_at = resolve_expiry(template=template, request_type=request_type, expires_at=expires_at, now=now)
    estimate = estimates.estimate(
        provider=template.provider,
        parameters=rendered.parameters,
        hours=lifetime_hours(request_type=request_type, expires_at=expires_at, now=now),
    )
    return Prepared(rendered=rendered, expires_at=expires_at, estimate=estimate, now=now)


def estimate_request(
    *,
    actor,
    template: Template,
    parameters: Any,
    request_type: str = RequestType.TEMPORARY,
    expires_at: datetime | None = None,
    **_ignored: Any,
) -> dict[str, Any]:
    """Price a request without submitting it, and say whether it would fit the caller's quota now."""
    prepared = prepare_request(
        template=template, parameters=parameters, request_type=request_type, expires_at=expires_at
    )
    return {
        "template": template.pk,
        "template_version": template.version,
        "parameters": prepared.rendered.parameters,
        "request_type": request_type,
        "expires_at": prepared.expires_at,
        "estimate": prepared.estimate.as_dict(),
        "quota": quota_services.preview(user=actor, amounts=prepared.estimate.reservation()),
    }


def submit_request(
    *,
    actor,
    template: Template,
    parameters: Any,
    description: str = "",
    request_type: str = RequestType.TEMPORARY,
    expires_at: datetime | None = None,
) -> ProvisionRequest:
    """Validate the parameters against the template's schema, price the request, reserve the
    estimate on the requester's quota (409 when it does not fit), and store the request with a
    snapshot of the template version it was made from."""
    prepared = prepare_request(
        template=template, parameters=parameters, request_type=request_type, expires_at=expires_at
    )
    rendered, expires_at, estimate, now = prepared.rendered, prepared.expires_at, prepared.estimate, prepared.now
    snapshot = {
        "name": template.name,
        "resource_type": template.resource_type,
        "provider": template.provider,
        "body": template.body,
        "parameters_schema": template.parameters_schema,
    }

    quota = quota_services.effective_quota(actor, now=now)
    amounts = estimate.reservation()
    # One conditional update on the ledger (no transaction: concurrent submissions must not
    # conflict); if storing the request then fails, the reservation is given back below.
    quota_services.reserve(user=actor, amounts=amounts, quota=quota)  # 409 with a breakdown when it does not fit

    def unit() -> ProvisionRequest:
        request = ProvisionRequest.objects.create(
            requested_by=actor,
            template=template,
            template_version=template.version,
            template_snapshot=snapshot,
            parameters=rendered.parameters,
            description=description,
            request_type=request_type,
            expires_at=expires_at,
            cost_estimate=estimate.as_dict(),
            analysis_remarks=remarks,
            reservation=amounts,
            reservation_state=ReservationState.HELD,
        )
        transitions.record(
            subject=request,
            actor=actor,
            action=transitions.SUBMIT.action,
            to_status=request.status,
            data={"template": template.pk, "template_version": template.version, "estimate_usd": estimate_usd},
        )
        return request

    try:
        remarks = analysis.analyse(
            estimate=estimate,
            quota=quota,
            reserved_after=quota_services.reserved(user=actor),
            parameters=rendered.parameters,
            request_type=request_type,
            max_lifetime_hours=template.max_lifetime_hours,
        )
        estimate_usd = estimate.as_dict()["usd"]
        request = run_atomic(unit)
    except BaseException:
        quota_services.unreserve(user_id=actor.pk, amounts=amounts)  # nothing was stored: give it back
        raise
    enqueue("analyse", request.pk, queue=DEFAULT_QUEUE)
    return request


def lifetime_hours(*, request_type: str, expires_at: datetime | None, now: datetime) -> Decimal:
    """The hours a request is priced for: every started hour until it expires, or the permanent horizon."""
    if request_type == RequestType.PERMANENT or expires_at is None:
        return Decimal(settings.PERMANENT_ESTIMATE_HOURS)
    return Decimal(math.ceil((expires_at - now).total_seconds() / 3600))


def update_description(*, actor, request: ProvisionRequest, description: str) -> ProvisionRequest:
    """The requester may reword the description while the request waits for review."""
    if actor.pk != request.requested_by_id:
        raise PermissionDenied("Only the requester may edit this provision request.")
    previous = request.description

    def unit() -> int:
        now = timezone.now()
        written = ProvisionRequest.objects.filter(pk=request.pk, status=RequestStatus.REQUESTED).update(
            description=description, updated_at=now
        )
        if written:
            transitions.record(
                subject=request,
                actor=actor,
                action="edit",
                from_status=RequestStatus.REQUESTED,
                to_status=RequestStatus.REQUESTED,
                data={"description": {"from": previous, "to": description}},
            )
            request.description, request.updated_at = description, now
        return written

    if not run_atomic(unit):
        current = ProvisionRequest.objects.filter(pk=request.pk).values_list("status", flat=True).first()
        raise transitions.InvalidTransition(subject=request, action="edit", current=current or request.status)
    return request


def enqueue(job_name: str, request_id, *, queue: str = PROVISIONING_QUEUE) -> None:
    """Enqueue ``provisioning.jobs.<job_name>(request_id)`` with retries and backoff.

    The job id is deterministic, so enqueueing twice does not run it twice in parallel. When
    Redis is down the row keeps its status and the sweep enqueues the job again later.
    """
    import django_rq
    from rq import Retry

    from provisioning import jobs

    intervals = list(settings.JOB_RETRY_INTERVALS)
    job_id = f"{job_name}-{request_id}"
    try:
        rq_queue = django_rq.get_queue(queue)
        pending = rq_queue.fetch_job(job_id)
        if pending is not None and pending.get_status(refresh=False) in WAITING_JOB_STATES:
            return  # already waiting or running: the sweep's re-enqueue must not queue it twice
        rq_queue.enqueue(
            getattr(jobs, job_name),
            str(request_id),
            job_id=job_id,
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            meta=logs.job_meta(),  # the job's logs carry this request's id
        )
    except Exception:
        logger.exception("Could not enqueue %s(%s); the sweep will retry", job_name, request_id)


def _chain(*steps):
    """Several ``also`` steps of one transition, run in order inside its transaction."""

    def run(now: datetime) -> None:
        for step in steps:
            step(now)

    return run


def _review_fields(*, actor, note: str) -> dict[str, Any]:
    return {"reviewed_by": actor, "reviewed_at": timezone.now(), "review_note": note}


def _require_note(note: str, *, what: str) -> str:
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [f"Say why when rejecting {what}; the requester will read it."]})
    return note


def approve_request(*, actor, request: ProvisionRequest, note: str = "") -> ProvisionRequest:
    """REQUESTED -> APPROVED; provisioning is enqueued once the approval has committed."""
    if actor is None and request.request_type == RequestType.PERMANENT:
        raise PermissionDenied("Permanent requests are approved by DevOps or admins only, never automatically.")
    transitions.transition(
        request,
        "approve",
        actor=actor,
        note=note,
        fields=_review_fields(actor=actor, note=note),
        also=_chain(
            lambda now: quota_services.check_still_within(request=request),  # quotas may have shrunk
            lambda now: announcements.request_decided(request, approved=True, note=note),
        ),
        after_commit=lambda: enqueue("provision", request.pk),
    )
    metrics.reviewed(kind="provision", decision="approved", actor=actor)  # the move has committed
    return request


def _release(request: ProvisionRequest):
    def release(now: datetime) -> None:
        quota_services.release(request_model=ProvisionRequest, request_id=request.pk)

    return release


def reject_request(*, actor, request: ProvisionRequest, note: str) -> ProvisionRequest:
    note = _require_note(note, what="a request")
    transitions.transition(
        request,
        "reject",
        actor=actor,
        note=note,
        fields=_review_fields(actor=actor, note=note),
        also=_chain(_release(request), lambda now: announcements.request_decided(request, approved=False, note=note)),
    )
    metrics.reviewed(kind="provision", decision="rejected", actor=actor)
    return request


def revoke_request(*, actor, request: ProvisionRequest, note: str = "") -> ProvisionRequest:
    """The requester withdraws the request before provisioning starts."""
    return transitions.transition(request, "revoke", actor=actor, note=note, also=_release(request))


# --- the system's moves (workers and sweeps) ----------------------------------------------------


def start_provisioning(*, request: ProvisionRequest) -> ProvisionRequest:
    return transitions.transition(request, "start_provisioning", actor=None)


def mark_deployed(*, request: ProvisionRequest, outputs: dict, secret: str | None, secret_kind: str | None):
    """INITIATED -> DEPLOYED, storing the outputs and the encrypted secret in the same transaction."""
    from cloudassist import crypto
    from provisioning.models import Credential

    def store_secret(now: datetime) -> None:
        if secret:
            Credential.objects.update_or_create(
                provision_request_id=request.pk,
                defaults={"kind": secret_kind or "credentials", "ciphertext": crypto.encrypt(secret)},
            )

    transitions.transition(
        request,
        "mark_deployed",
        actor=None,
        fields={"outputs": outputs},
        data={"outputs": sorted(outputs), "secret": secret_kind if secret else None},
        also=_chain(
            store_secret, lambda now: announcements.provisioned(request, secret_kind=secret_kind if secret else None)
        ),
    )
    metrics.provisioning_finished(request, operation="provision", outcome="succeeded")
    return request


def mark_failed(*, request: ProvisionRequest, note: str) -> ProvisionRequest:
    """INITIATED -> FAILED; a purge follows so that nothing half-created is left behind."""
    transitions.transition(
        request,
        "mark_failed",
        actor=None,
        note=note,
        also=lambda now: announcements.provision_failed(request, note=note),
        after_commit=lambda: enqueue("purge", request.pk),
    )
    metrics.provisioning_finished(request, operation="provision", outcome="failed")
    return request


def expire(*, request: ProvisionRequest) -> ProvisionRequest:
    return transitions.transition(
        request,
        "expire",
        actor=None,
        also=lambda now: announcements.expired(request),
        after_commit=lambda: enqueue("purge", request.pk),
    )


def start_purge(*, actor, request: ProvisionRequest, note: str = "") -> ProvisionRequest:
    """The requester (ending it early), DevOps, or the system: -> PURGE_INITIATED, then the purge job."""
    return transitions.transition(
        request, "start_purge", actor=actor, note=note, after_commit=lambda: enqueue("purge", request.pk)
    )


def mark_purged(*, request: ProvisionRequest, note: str = "") -> ProvisionRequest:
    """The system: PURGE_INITIATED -> PURGED, giving back what the request held on its quota and
    dropping its secret."""
    from provisioning.models import Credential

    def release_and_forget(now: datetime) -> None:
        _release(request)(now)
        Credential.objects.filter(provision_request_id=request.pk).delete()
        announcements.purged(request)

    transitions.transition(request, "mark_purged", actor=None, note=note, also=release_and_forget)
    metrics.provisioning_finished(request, operation="purge", outcome="succeeded")
    return request


def mark_purge_failed(*, request: ProvisionRequest, note: str) -> ProvisionRequest:
    transitions.transition(
        request,
        "mark_purge_failed",
        actor=None,
        note=note,
        also=lambda now: announcements.purge_failed(request, note=note, now=now),
    )
    metrics.provisioning_finished(request, operation="purge", outcome="failed")
    return request


def _extension_refusal(request: ProvisionRequest) -> Conflict:
    request.refresh_from_db(fields=["status", "extension_slot", "request_type"])
    if request.request_type == RequestType.PERMANENT:
        return Conflict("Permanent requests do not expire; there is nothing to extend.")
    if request.status not in LIVE:
        return transitions.InvalidTransition(subject=request, action="extend", current=request.status)
    if request.extension_slot == ExtensionSlot.PENDING:
        return Conflict("An extension of this provision request is already pending review.")
    return Conflict("This provision request already had its one extension.")


def request_extension(*, actor, request: ProvisionRequest, extend_by_hours: int, reason: str) -> ExtensionRequest:
    """Ask once for more time for a live environment (APPROVED, INITIATED or DEPLOYED)."""
    transitions.authorize(
        transitions.REQUEST_EXTENSION, actor=actor, owner_id=request.requested_by_id, noun="provision request"
    )
    if not MIN_EXTENSION_HOURS <= extend_by_hours <= MAX_EXTENSION_HOURS:
        raise ValidationError(
            {"extend_by_hours": [f"Must be between {MIN_EXTENSION_HOURS} and {MAX_EXTENSION_HOURS} hours."]}
        )
    if request.request_type == RequestType.PERMANENT:
        raise Conflict("Permanent requests do not expire; there is nothing to extend.")

    def unit() -> ExtensionRequest | None:
        claimed = ProvisionRequest.objects.filter(
            pk=request.pk, status__in=LIVE, extension_slot=ExtensionSlot.AVAILABLE
        ).update(extension_slot=ExtensionSlot.PENDING, updated_at=timezone.now())
        if not claimed:
            return None
        extension = ExtensionRequest.objects.create(
            provision_request=request, requested_by=actor, reason=reason, extend_by_hours=extend_by_hours
        )
        transitions.record(
            subject=extension,
            actor=actor,
            action=transitions.REQUEST_EXTENSION.action,
            to_status=extension.status,
            data={"extend_by_hours": extend_by_hours},
        )
        announcements.review_extension(extension, request)
        return extension

    extension = run_atomic(unit)
    if extension is None:
        raise _extension_refusal(request)
    request.extension_slot = ExtensionSlot.PENDING
    return extension


def _release_slot(extension: ExtensionRequest):
    def release(now: datetime) -> None:
        ProvisionRequest.objects.filter(pk=extension.provision_request_id, extension_slot=ExtensionSlot.PENDING).update(
            extension_slot=ExtensionSlot.AVAILABLE, updated_at=now
        )

    return release


def approve_extension(*, actor, extension: ExtensionRequest, note: str = "") -> ExtensionRequest:
    """REQUESTED -> APPROVED, moving the environment's expires_at by extend_by_hours, all or nothing."""

    def extend(now: datetime) -> None:
        request = ProvisionRequest.objects.get(pk=extension.provision_request_id)
        if request.status not in LIVE:
            raise transitions.InvalidTransition(subject=request, action="extend", current=request.status)
        new_expiry = request.expires_at + timedelta(hours=extension.extend_by_hours)
        written = ProvisionRequest.objects.filter(
            pk=request.pk,
            status=request.status,
            expires_at=request.expires_at,
            extension_slot=ExtensionSlot.PENDING,
        ).update(expires_at=new_expiry, extension_slot=ExtensionSlot.USED, updated_at=now)
        if written != 1:
            raise Conflict("The provision request changed meanwhile; try again.")
        previous_hours = Decimal((request.cost_estimate or {}).get("hours") or 0)
        priced = estimates.estimate(
            provider=request.template_snapshot.get("provider", ""),
            parameters=request.parameters,
            hours=previous_hours + extension.extend_by_hours,
        )
        quota_services.adjust(request=request, estimate=priced)  # 409 with a breakdown when over quota
        transitions.record(
            subject=request,
            actor=actor,
            action="extend",
            from_status=request.status,
            to_status=request.status,
            note=note,
            data={
                "extension_request": str(extension.pk),
                "extend_by_hours": extension.extend_by_hours,
                "expires_at": {"from": request.expires_at.isoformat(), "to": new_expiry.isoformat()},
            },
        )
        request.expires_at = new_expiry
        announcements.extension_decided(extension, request, approved=True, note=note)

    transitions.transition(
        extension, "approve", actor=actor, note=note, fields=_review_fields(actor=actor, note=note), also=extend
    )
    metrics.reviewed(kind="extension", decision="approved", actor=actor)
    return extension


def reject_extension(*, actor, extension: ExtensionRequest, note: str) -> ExtensionRequest:
    note = _require_note(note, what="an extension")
    transitions.transition(
        extension,
        "reject",
        actor=actor,
        note=note,
        fields=_review_fields(actor=actor, note=note),
        also=_chain(
            _release_slot(extension),
            lambda now: announcements.extension_decided(
                extension, extension.provision_request, approved=False, note=note
            ),
        ),
    )
    metrics.reviewed(kind="extension", decision="rejected", actor=actor)
    return extension


def revoke_extension(*, actor, extension: ExtensionRequest, note: str = "") -> ExtensionRequest:
    return transitions.transition(extension, "revoke", actor=actor, note=note, also=_release_slot(extension))


# --- secrets ------------------------------------------------------------------------------------


def read_secret(*, actor, request: ProvisionRequest, kind: str) -> str:
    """Decrypt the kubeconfig or credentials for someone allowed to see the request; every read
    is an audit event (the secret itself never is)."""
    from cloudassist import crypto
    from cloudassist.exceptions import NotFound
    from provisioning.models import Credential

    credential = Credential.objects.filter(provision_request=request).first()
    if credential is None:
        raise NotFound(f"No {kind} for this request: it is {request.status}.")
    if credential.kind != kind:
        raise NotFound(f"This request has {credential.kind}, not a {kind}; download .../{credential.kind}/ instead.")
    text = crypto.decrypt(credential.ciphertext)
    transitions.record(
        subject=request,
        actor=actor,
        action=f"download_{kind}",
        from_status=request.status,
        to_status=request.status,
    )
    return text
