"""What a provision request holds on its requester's quota: checked at approval, moved by an
extension, given back exactly once. The request records its reservation (``reservation``,
``reservation_state``); quotas only keeps the ledger and is told the amounts."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.utils import timezone

from cloudassist.db import run_atomic
from provisioning import metrics
from provisioning.models import ProvisionRequest
from quotas import services as quota_services
from quotas.choices import ReservationState
from quotas.estimates import Estimate
from quotas.models import UsageLedger

logger = logging.getLogger(__name__)


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


# --- reconciling the ledgers -----------------------------------------------------------------


def held_by_user(*, user_id=None) -> dict[Any, dict[str, int]]:
    """What the requests holding a reservation add up to, per requester (or for one)."""
    held = ProvisionRequest.objects.filter(reservation_state=ReservationState.HELD).order_by()
    if user_id is not None:
        held = held.filter(requested_by_id=user_id)
    totals: dict[Any, dict[str, int]] = {}
    for requester, reservation in held.values_list("requested_by_id", "reservation").iterator():
        total = totals.setdefault(requester, dict.fromkeys(quota_services.LEDGER_FIELDS, 0))
        for field in quota_services.LEDGER_FIELDS:
            total[field] += int((reservation or {}).get(field, 0) or 0)
    return totals


def _correct(user_id) -> dict[str, tuple[int, int]]:
    """Set one user's ledger to what their requests hold, in one transaction: every ledger change
    commits with the request it is for, so the two are read from the same snapshot, and a change
    committed meanwhile makes this write conflict and run again. Answers {field: (was, now)}."""

    def unit() -> dict[str, tuple[int, int]]:
        expected = held_by_user(user_id=user_id).get(user_id, dict.fromkeys(quota_services.LEDGER_FIELDS, 0))
        ledger = UsageLedger.objects.filter(user_id=user_id).values(*quota_services.LEDGER_FIELDS).first()
        if ledger is None:
            if not any(expected.values()):
                return {}
            UsageLedger.objects.create(user_id=user_id, **expected)
            return {field: (0, value) for field, value in expected.items() if value}
        drift = {field: (ledger[field], expected[field]) for field in expected if ledger[field] != expected[field]}
        if drift:
            UsageLedger.objects.filter(user_id=user_id, **ledger).update(**expected, updated_at=timezone.now())
        return drift

    return run_atomic(unit)


def reconcile_ledgers() -> dict[str, int]:
    """Recompute every usage ledger from the requests that hold a reservation (reservation_state
    HELD); correct the ones that drifted, logging each correction and counting it
    (``cloudassist_quota_ledger_corrections_total``). Run by the sweep and ``manage.py reconcile_quotas``."""
    held = held_by_user()
    ledgers = {
        row["user_id"]: row for row in UsageLedger.objects.values("user_id", *quota_services.LEDGER_FIELDS).iterator()
    }
    zero = dict.fromkeys(quota_services.LEDGER_FIELDS, 0)
    suspects = [
        user_id
        for user_id in set(held) | set(ledgers)
        if any(held.get(user_id, zero)[field] != ledgers.get(user_id, zero)[field] for field in zero)
    ]
    corrected = 0
    for user_id in suspects:  # look again, in a transaction: a submission may have been in flight
        drift = _correct(user_id)
        if drift:
            corrected += 1
            metrics.ledger_corrected(fields=list(drift))
            logger.warning(
                "quota ledger of user %s corrected: %s",
                user_id,
                ", ".join(f"{field} {was} -> {now}" for field, (was, now) in sorted(drift.items())),
            )
    return {"ledgers_checked": len(set(held) | set(ledgers)), "ledgers_corrected": corrected}
