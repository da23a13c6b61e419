"""The moves the system makes (workers and sweeps): provisioning, deployed or failed, expiry,
and the purge; plus the purge a person may start. Each one a transition with its audit event,
its announcement and the job that follows."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from provisioning import announcements, metrics, transitions
from provisioning.models import ProvisionRequest
from provisioning.policies import Policy
from provisioning.services import reservations, secrets
from provisioning.services.queueing import chain, enqueue


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
        fields={"outputs": outputs},
        data={"outputs": sorted(outputs), "secret": stored_kind},
        also=chain(store_secret, lambda now: announcements.provisioned(request, secret_kind=stored_kind)),
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
        also=lambda now: announcements.purge_failed(request, note=note, now=now),
    )
    metrics.provisioning_finished(request, operation="purge", outcome="failed")
    return request
