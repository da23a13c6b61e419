"""The one-time extension of a live environment: asking for it, and what its approval or its
end (rejected, revoked) does to the provision request. The review itself is services.review."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cloudassist.db import run_atomic
from cloudassist.exceptions import Conflict
from provisioning import announcements, plans, policies, transitions
from provisioning.choices import LIVE, ExtensionSlot, RequestStatus, RequestType
from provisioning.models import MAX_EXTENSION_HOURS, MIN_EXTENSION_HOURS, ExtensionRequest, ProvisionRequest
from provisioning.services import reservations

NOTHING_TO_EXTEND = "Permanent requests do not expire; there is nothing to extend."


def _refusal(request: ProvisionRequest) -> Conflict:
    request.refresh_from_db(fields=["status", "extension_slot", "request_type"])
    if request.request_type == RequestType.PERMANENT:
        return Conflict(NOTHING_TO_EXTEND)
    if request.status == RequestStatus.EXPIRED:
        refusal = transitions.InvalidTransition(subject=request, action="extend", current=request.status)
        refusal.message += " DevOps can still extend it until it is purged."
        return refusal
    if request.status not in LIVE:
        return transitions.InvalidTransition(subject=request, action="extend", current=request.status)
    if request.extension_slot == ExtensionSlot.PENDING:
        return Conflict("An extension of this provision request is already pending review.")
    return Conflict("This provision request already had its one extension.")


def extension_available(*, actor, request: ProvisionRequest) -> bool:
    """May ``actor`` ask for the one extension of ``request`` now (the checks of request_extension
    that need no lease-cap arithmetic: the requester, a live temporary request, the slot free)?"""
    try:
        transitions.authorize(
            transitions.REQUEST_EXTENSION, actor=actor, owner_id=request.requested_by_id, noun="provision request"
        )
    except PermissionDenied:
        return False
    return (
        request.request_type != RequestType.PERMANENT
        and request.status in LIVE
        and request.extension_slot == ExtensionSlot.AVAILABLE
    )


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
        raise Conflict(NOTHING_TO_EXTEND)
    if request.status in LIVE:
        policies.check_extension(request, extend_by_hours=extend_by_hours)  # 400: the lease cap

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
        raise _refusal(request)
    request.extension_slot = ExtensionSlot.PENDING
    return extension


def extend(extension: ExtensionRequest, *, actor, note: str, now: datetime) -> None:
    """The approval's work, inside its transition: move the environment's expires_at by
    extend_by_hours and its quota reservation with it, all or nothing."""
    request = ProvisionRequest.objects.get(pk=extension.provision_request_id)
    if request.status not in LIVE:
        raise transitions.InvalidTransition(subject=request, action="extend", current=request.status)
    policies.check_extension(request, extend_by_hours=extension.extend_by_hours)  # the cap still holds
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
    priced = plans.price_of(request, previous_hours + extension.extend_by_hours)
    reservations.adjust(request=request, estimate=priced)  # 409 with a breakdown when over quota
    transitions.record_same_status(
        subject=request,
        actor=actor,
        action="extend",
        note=note,
        data={
            "extension_request": str(extension.pk),
            "extend_by_hours": extension.extend_by_hours,
            "expires_at": {"from": request.expires_at.isoformat(), "to": new_expiry.isoformat()},
        },
    )
    request.expires_at = new_expiry
    announcements.extension_decided(extension, request, approved=True, note=note)


def release_slot(extension: ExtensionRequest):
    """A rejected or revoked extension frees the provision request's one slot again (a step of its transition)."""

    def release(now: datetime) -> None:
        ProvisionRequest.objects.filter(pk=extension.provision_request_id, extension_slot=ExtensionSlot.PENDING).update(
            extension_slot=ExtensionSlot.AVAILABLE, updated_at=now
        )

    return release


def extend_expired(*, actor, request: ProvisionRequest, extend_by_hours: int, note: str = "") -> ProvisionRequest:
    """DevOps keep an EXPIRED environment during its purge grace: EXPIRED -> DEPLOYED, expiring
    ``extend_by_hours`` from now (within the lease cap), its reservation moved with it. Only an
    environment that was deployed when it expired; the requester's own extension is over."""
    transitions.authorize(
        transitions.REQUEST_MOVES["extend_expired"],
        actor=actor,
        owner_id=request.requested_by_id,
        noun="provision request",
    )
    if not MIN_EXTENSION_HOURS <= extend_by_hours <= MAX_EXTENSION_HOURS:
        raise ValidationError(
            {"extend_by_hours": [f"Must be between {MIN_EXTENSION_HOURS} and {MAX_EXTENSION_HOURS} hours."]}
        )
    if request.status != RequestStatus.EXPIRED:
        raise transitions.InvalidTransition(subject=request, action="extend_expired", current=request.status)
    expiry = request.events.filter(action="expire").order_by("-created_at").values_list("from_status", flat=True)
    if expiry.first() != RequestStatus.DEPLOYED:
        raise Conflict("It expired before it was deployed: there is no environment to keep.")
    now = timezone.now()
    policies.check_extension(request, extend_by_hours=extend_by_hours, start=now)  # 400: the lease cap
    old_expiry = request.expires_at
    new_expiry = now.replace(microsecond=now.microsecond // 1000 * 1000) + timedelta(hours=extend_by_hours)
    previous_hours = Decimal((request.cost_estimate or {}).get("hours") or 0)
    added = Decimal(math.ceil((new_expiry - old_expiry).total_seconds() / 3600))

    def keep(moment: datetime) -> None:
        priced = plans.price_of(request, previous_hours + added)
        reservations.adjust(request=request, estimate=priced)  # 409 with a breakdown when over quota
        request.expires_at = new_expiry
        announcements.extended_expired(request, actor=actor, note=note)

    return transitions.transition(
        request,
        "extend_expired",
        actor=actor,
        note=note,
        data={
            "extend_by_hours": extend_by_hours,
            "expires_at": {"from": old_expiry.isoformat(), "to": new_expiry.isoformat()},
        },
        fields={"expires_at": new_expiry, "purge_after": None},
        also=keep,
    )
