"""What a provision request holds on its requester's quota: checked at approval, moved by an
extension, given back exactly once. The request records its reservation (``reservation``,
``reservation_state``); quotas only keeps the ledger and is told the amounts."""

from __future__ import annotations

from datetime import datetime

from provisioning.models import ProvisionRequest
from quotas import services as quota_services
from quotas.choices import ReservationState
from quotas.estimates import Estimate


def _held(request: ProvisionRequest) -> dict[str, int] | None:
    """What the request holds now, or None when it holds nothing (released)."""
    return (request.reservation or {}) if request.reservation_state == ReservationState.HELD else None


def check_still_within(*, request: ProvisionRequest) -> None:
    """At approval: the quota may have shrunk since submission (QuotaExceeded with a breakdown)."""
    quota_services.check_still_within(user=request.requested_by, held=_held(request) or {})


def adjust(*, request: ProvisionRequest, estimate: Estimate) -> None:
    """Move the request's reservation to ``estimate`` (an extension changed its lifetime)."""
    wanted = estimate.reservation()
    quota_services.adjust(user=request.requested_by, held=_held(request), wanted=wanted, what="this extension")
    ProvisionRequest.objects.filter(pk=request.pk).update(
        reservation=wanted, reservation_state=ReservationState.HELD, cost_estimate=estimate.as_dict()
    )
    request.reservation, request.reservation_state = wanted, ReservationState.HELD
    request.cost_estimate = estimate.as_dict()


def release(request: ProvisionRequest) -> bool:
    """Give back what the request holds, exactly once (call inside its transition)."""
    row = ProvisionRequest.objects.filter(pk=request.pk).values("requested_by_id", "reservation").first()
    if row is None:
        return False
    flipped = ProvisionRequest.objects.filter(pk=request.pk, reservation_state=ReservationState.HELD).update(
        reservation_state=ReservationState.RELEASED
    )
    if flipped:
        quota_services.release(user_id=row["requested_by_id"], amounts=row["reservation"] or {})
    return bool(flipped)


def releasing(request: ProvisionRequest):
    """``release`` as a step of a transition."""

    def step(now: datetime) -> None:
        release(request)

    return step
