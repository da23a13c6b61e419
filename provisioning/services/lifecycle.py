"""The moves the system makes (workers and sweeps): provisioning, deployed or failed, expiry,
and the purge; plus the purge a person may start, and the ways out of a failure (retry the
provisioning, or close a failed purge cleaned up by hand). Each one a transition with its audit
event, its announcement and the job that follows."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

import providers
from cloudassist.exceptions import Conflict
from provisioning import announcements, metrics, transitions
from provisioning.models import ProvisionRequest
from provisioning.policies import Policy
from provisioning.services import reservations, secrets
from provisioning.services.queueing import chain, enqueue


def provider_not_configured(provider: str) -> Conflict | None:
    """The 409 for a provider that is not configured (the reason names the setting), or None."""
    reason = providers.unavailable_reason(provider)
    if reason is None:
        return None
    return Conflict(reason, code="provider_not_configured", provider=provider)


def _provider_of(request: ProvisionRequest) -> str:
    return (request.template_snapshot or {}).get("provider") or ""


def start_provisioning(*, request: ProvisionRequest) -> ProvisionRequest:
    return transitions.transition(request, "start_provisioning", actor=None)


def mark_deployed(*, request: ProvisionRequest, outputs: dict, secret: str | None, secret_kind: str | None):
    """INITIATED -> DEPLOYED, storing the outputs and the encrypted secret in the same transaction."""
    stored_kind = secret_kind if secret else None

    def store_secret(now: datetime) -> None:
        if secret:
            secrets.store(request=request, secret=secret, kind=secret_kind)

    transitions.transition(
        request,
        "mark_deployed",
        actor=None,
        fields={"outputs": outputs, "failure_reason": ""},
        data={"outputs": sorted(outputs), "secret": stored_kind},
        also=chain(store_secret, lambda now: announcements.provisioned(request, secret_kind=stored_kind)),
    )
    metrics.provisioning_finished(request, operation="provision", outcome="succeeded")
    return request


def mark_failed(*, request: ProvisionRequest, note: str) -> ProvisionRequest:
    """INITIATED -> FAILED, the note kept as its ``failure_reason``. What was created is kept for
    FAILED_PURGE_DELAY_MINUTES, so that a retry carries on from it; then the sweep purges it
    (at once when the delay is 0, or when the provider is not configured: no retry can help)."""
    unfixable = provider_not_configured(_provider_of(request))
    if unfixable is not None:
        why = "" if unfixable.message in note else f": {unfixable.message}"
        note = f"{note} Retrying cannot succeed until the provider is configured{why}"
    purge_now = unfixable is not None or settings.FAILED_PURGE_DELAY_MINUTES <= 0
    transitions.transition(
        request,
        "mark_failed",
        actor=None,
        note=note,
        fields={"failure_reason": note},
        also=lambda now: announcements.provision_failed(request, note=note, retry_window=not purge_now),
        after_commit=(lambda: enqueue("purge", request.pk)) if purge_now else None,
    )
    metrics.provisioning_finished(request, operation="provision", outcome="failed")
    return request


def retry_provisioning(*, actor, request: ProvisionRequest, note: str = "") -> ProvisionRequest:
    """DevOps (or the requester, if the template allows): FAILED -> APPROVED, then the provisioning
    job, which carries on from what exists. Refused (409) while the provider is not configured,
    naming the setting, and once the request's expiry has passed."""
    unfixable = provider_not_configured(_provider_of(request))
    if unfixable is not None:
        raise Conflict(f"Retrying cannot succeed: {unfixable.message}", code=unfixable.code, **unfixable.extra)
    if request.expires_at is not None and request.expires_at <= timezone.now():
        raise Conflict(
            f"It expired at {request.expires_at.isoformat(timespec='seconds')}; purge it and ask again.",
            code="expired",
        )
    reviewer_retried = actor.pk != request.requested_by_id
    return transitions.transition(
        request,
        "retry",
        actor=actor,
        note=note,
        data={"previous_failure": request.failure_reason},
        also=(lambda now: announcements.retried(request, actor=actor, note=note)) if reviewer_retried else None,
        after_commit=lambda: enqueue("provision", request.pk),
    )


def expire(*, request: ProvisionRequest) -> ProvisionRequest:
    """A live environment past its expiry -> EXPIRED; purged at once, or after the template's
    grace (purge_after, when the sweep starts the purge; DevOps may extend it meanwhile)."""
    now = timezone.now()
    purge_after = Policy.of_request(request).purge_after(expired_at=now)
    in_grace = purge_after > now
    return transitions.transition(
        request,
        "expire",
        actor=None,
        fields={"purge_after": purge_after},
        data={"purge_after": purge_after.isoformat()} if in_grace else None,
        also=lambda now: announcements.expired(request, purge_after=purge_after if in_grace else None),
        after_commit=None if in_grace else lambda: enqueue("purge", request.pk),
    )


def time_out(*, request: ProvisionRequest, reason: str) -> ProvisionRequest:
    """REQUESTED, not reviewed in time -> TIMED_OUT (terminal): the hold on the quota is given
    back and the requester and the reviewers are told why."""
    return transitions.transition(
        request,
        "time_out",
        actor=None,
        note=reason,
        also=chain(reservations.releasing(request), lambda now: announcements.timed_out(request, reason=reason)),
    )


def start_purge(*, actor, request: ProvisionRequest, note: str = "") -> ProvisionRequest:
    """The requester (ending it early), DevOps, or the system: -> PURGE_INITIATED, then the purge job."""
    return transitions.transition(
        request, "start_purge", actor=actor, note=note, after_commit=lambda: enqueue("purge", request.pk)
    )


def mark_purged(*, request: ProvisionRequest, note: str = "") -> ProvisionRequest:
    """The system: PURGE_INITIATED -> PURGED, giving back what the request held on its quota and
    dropping its secret."""
    transitions.transition(
        request,
        "mark_purged",
        actor=None,
        note=note,
        fields={"failure_reason": ""},
        also=chain(
            reservations.releasing(request),
            lambda now: secrets.forget(request=request),
            lambda now: announcements.purged(request),
        ),
    )
    metrics.provisioning_finished(request, operation="purge", outcome="succeeded")
    return request


def mark_purge_failed(*, request: ProvisionRequest, note: str) -> ProvisionRequest:
    transitions.transition(
        request,
        "mark_purge_failed",
        actor=None,
        note=note,
        fields={"failure_reason": note},
        also=lambda now: announcements.purge_failed(request, note=note, now=now),
    )
    metrics.provisioning_finished(request, operation="purge", outcome="failed")
    return request


def mark_cleaned_up(*, actor, request: ProvisionRequest, note: str) -> ProvisionRequest:
    """DevOps, after deleting what the failed purge left by hand: PURGE_FAILED -> PURGED with a
    mandatory note saying what was done; gives back the quota reservation and drops the secret."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": ["Say what was cleaned up by hand; it is kept in the audit trail."]})
    return transitions.transition(
        request,
        "mark_cleaned_up",
        actor=actor,
        note=note,
        fields={"failure_reason": ""},
        data={"failure_reason": request.failure_reason},
        also=chain(
            reservations.releasing(request),
            lambda now: secrets.forget(request=request),
            lambda now: announcements.cleaned_up(request, note=note),
        ),
    )
