"""Review: DevOps (or, within policy, the system) approves or rejects a provision request or
an extension request with one ``decide``; the requester may revoke either while it waits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from provisioning import announcements, metrics, transitions
from provisioning.choices import RequestType
from provisioning.models import ExtensionRequest, ProvisionRequest
from provisioning.services import extensions, reservations
from provisioning.services.queueing import Step, chain, enqueue

Subject = ProvisionRequest | ExtensionRequest


def _require_note(note: str, *, what: str) -> str:
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [f"Say why when rejecting {what}; the requester will read it."]})
    return note


def _consequences(subject: Subject, *, actor, approve: bool, note: str) -> tuple[Step, Callable[[], None] | None]:
    """What a decision does inside its transition, and what follows once it has committed."""
    if isinstance(subject, ExtensionRequest):
        if approve:
            return (lambda now: extensions.extend(subject, actor=actor, note=note, now=now)), None

        def announce_extension(now) -> None:
            announcements.extension_decided(subject, subject.provision_request, approved=False, note=note)

        return chain(extensions.release_slot(subject), announce_extension), None

    def announce(now) -> None:
        announcements.request_decided(subject, approved=approve, note=note)

    if approve:  # the quotas may have shrunk since submission
        return (
            chain(lambda now: reservations.check_still_within(request=subject), announce),
            lambda: enqueue("provision", subject.pk),
        )
    return chain(reservations.releasing(subject), announce), None


def decide(*, actor, subject: Subject, approve: bool, note: str = "") -> Subject:
    """REQUESTED -> APPROVED or REJECTED, for a provision request or an extension request.

    Approving a provision request checks it still fits the quota and enqueues provisioning
    once the approval has committed; approving an extension moves the environment's expiry.
    Rejecting needs a note and gives back what was held (the reservation, the extension slot).
    Permanent requests are never approved by the system (actor None)."""
    is_extension = isinstance(subject, ExtensionRequest)
    if not approve:
        note = _require_note(note, what="an extension" if is_extension else "a request")
    elif actor is None and not is_extension and subject.request_type == RequestType.PERMANENT:
        raise PermissionDenied("Permanent requests are approved by DevOps or admins only, never automatically.")
    also, after_commit = _consequences(subject, actor=actor, approve=approve, note=note)
    fields: dict[str, Any] = {"reviewed_by": actor, "reviewed_at": timezone.now(), "review_note": note}
    transitions.transition(
        subject,
        "approve" if approve else "reject",
        actor=actor,
        note=note,
        fields=fields,
        also=also,
        after_commit=after_commit,
    )
    metrics.reviewed(  # the move has committed
        kind="extension" if is_extension else "provision",
        decision="approved" if approve else "rejected",
        actor=actor,
    )
    return subject


def revoke(*, actor, subject: Subject, note: str = "") -> Subject:
    """The requester withdraws a provision request (before provisioning starts) or an extension
    request (before it is reviewed), giving back what it held."""
    if isinstance(subject, ExtensionRequest):
        release = extensions.release_slot(subject)
    else:
        release = reservations.releasing(subject)
    return transitions.transition(subject, "revoke", actor=actor, note=note, also=release)


# The use cases by name, as the API and the admin call them (subject by keyword).


def approve_request(*, actor, request: ProvisionRequest, note: str = "") -> ProvisionRequest:
    return decide(actor=actor, subject=request, approve=True, note=note)


def reject_request(*, actor, request: ProvisionRequest, note: str) -> ProvisionRequest:
    return decide(actor=actor, subject=request, approve=False, note=note)


def revoke_request(*, actor, request: ProvisionRequest, note: str = "") -> ProvisionRequest:
    return revoke(actor=actor, subject=request, note=note)


def approve_extension(*, actor, extension: ExtensionRequest, note: str = "") -> ExtensionRequest:
    return decide(actor=actor, subject=extension, approve=True, note=note)


def reject_extension(*, actor, extension: ExtensionRequest, note: str) -> ExtensionRequest:
    return decide(actor=actor, subject=extension, approve=False, note=note)


def revoke_extension(*, actor, extension: ExtensionRequest, note: str = "") -> ExtensionRequest:
    return revoke(actor=actor, subject=extension, note=note)
