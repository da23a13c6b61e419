"""Review: DevOps (or, within policy, the system) approves or rejects a provision request or
an extension request with one ``decide``; the requester may revoke either while it waits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cloudassist.db import run_atomic
from cloudassist.exceptions import Conflict
from provisioning import announcements, metrics, policies, transitions
from provisioning.choices import RequestStatus, RequestType
from provisioning.models import ExtensionRequest, ProvisionRequest
from provisioning.services import extensions, reservations
from provisioning.services.queueing import Step, chain, enqueue

Subject = ProvisionRequest | ExtensionRequest
MAX_APPROVAL_ROUNDS = 10


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
    Permanent requests are never approved by the system (actor None).

    A provision request needs ``required_approvals`` approvals from different reviewers (its
    template's policy, provisioning/policies.py): each one before the last is an audited event
    and the request stays REQUESTED; the last makes the move. One rejection rejects it. Approval
    is refused (409) past the review window or with too little lifetime left."""
    is_extension = isinstance(subject, ExtensionRequest)
    if not approve:
        note = _require_note(note, what="an extension" if is_extension else "a request")
    elif actor is None and not is_extension and subject.request_type == RequestType.PERMANENT:
        raise PermissionDenied("Permanent requests are approved by DevOps or admins only, never automatically.")
    fields: dict[str, Any] = {"reviewed_by": actor, "reviewed_at": timezone.now(), "review_note": note}
    if approve and not is_extension:
        approvals = _add_approval(actor=actor, request=subject, note=note)
        if approvals is None:  # one of several, recorded: the request waits for the next reviewer
            return subject
        fields["approvals"] = approvals
    also, after_commit = _consequences(subject, actor=actor, approve=approve, note=note)
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


def _has_length(n: int) -> dict[str, bool]:
    """A filter matching an ``approvals`` list of exactly ``n`` entries (the compare-and-set)."""
    return {f"approvals__{n}__isnull": True, **({f"approvals__{n - 1}__isnull": False} if n else {})}


def _add_approval(*, actor, request: ProvisionRequest, note: str) -> list[dict] | None:
    """Count one approval towards the request's required_approvals (four-eyes).

    Returns the approvals including this one when it is the last one needed (the caller then
    makes the move to APPROVED, whose compare-and-set on the status lets one final approval
    win). Otherwise records it, audited, with a compare-and-set on the length of the list the
    reviewer saw, and returns None; a concurrent approval makes it look again. The same
    reviewer twice, or the system for a request needing several people, is refused."""
    transitions.authorize(
        transitions.REQUEST_MOVES["approve"], actor=actor, owner_id=request.requested_by_id, noun="provision request"
    )
    for _ in range(MAX_APPROVAL_ROUNDS):
        row = ProvisionRequest.objects.filter(pk=request.pk).values("status", "approvals", "required_approvals").first()
        if row is None or row["status"] != RequestStatus.REQUESTED:
            current = row["status"] if row else request.status
            raise transitions.InvalidTransition(subject=request, action="approve", current=current)
        seen, needed = list(row["approvals"] or []), max(row["required_approvals"] or 1, 1)
        request.approvals, request.required_approvals = seen, needed
        if actor is None and needed > 1:
            raise PermissionDenied(
                f"This request needs {needed} approvals from different reviewers; the system approves only "
                "requests that need one."
            )
        if actor is not None and any(entry.get("user_id") == str(actor.pk) for entry in seen):
            raise Conflict(
                f"You already approved this request ({len(seen)} of {needed} approvals); another reviewer must.",
                code="already_approved",
                approvals=len(seen),
                required_approvals=needed,
            )
        now = timezone.now()
        policies.check_approvable(request, now=now)
        approvals = [*seen, _approval(actor=actor, note=note, now=now)]
        if len(approvals) >= needed:
            return approvals

        def unit(seen=seen, approvals=approvals, now=now, needed=needed) -> int:
            written = ProvisionRequest.objects.filter(
                pk=request.pk, status=RequestStatus.REQUESTED, **_has_length(len(seen))
            ).update(approvals=approvals, updated_at=now)
            if written:
                transitions.record_same_status(
                    subject=request,
                    actor=actor,
                    action="approve",
                    status=RequestStatus.REQUESTED,
                    note=note,
                    data={"approval": len(approvals), "required_approvals": needed},
                )
                announcements.approval_recorded(request, approvals=approvals, required=needed)
            return written

        if run_atomic(unit):
            request.approvals, request.updated_at = approvals, now
            return None
    raise Conflict("The provision request is being reviewed by someone else; try again.")


def _approval(*, actor, note: str, now) -> dict[str, Any]:
    return {
        "user_id": str(actor.pk) if actor is not None else None,
        "username": actor.get_username() if actor is not None else transitions.SYSTEM,
        "at": now.isoformat(),
        "note": note,
    }


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
