"""Estimated spend: each request's live time (from approval until it stops being live) priced
at the hourly rate of its stored estimate. The seed's "estimatedBills", per user per month."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import timezone

from provisioning.choices import LIVE, RequestStatus
from provisioning.models import Event, ProvisionRequest
from quotas.choices import ReservationState

CENT = Decimal("0.01")
NEVER_LIVE = (RequestStatus.REQUESTED, RequestStatus.REJECTED)


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime | None  # None: still live

    def hours_within(self, since: datetime, until: datetime) -> Decimal:
        start, end = max(self.start, since), min(self.end or until, until)
        return Decimal(max((end - start).total_seconds(), 0)) / Decimal(3600)


def live_intervals(request_ids: list) -> dict[Any, Interval]:
    """From the audit trail: live from the approval to the first move out of a live status."""
    intervals: dict[Any, Interval] = {}
    events = Event.objects.filter(provision_request_id__in=request_ids, extension_request=None).order_by(
        "created_at", "pk"
    )
    for event in events.only("provision_request_id", "to_status", "from_status", "created_at"):
        current = intervals.get(event.provision_request_id)
        if current is None:
            if event.to_status == RequestStatus.APPROVED:
                intervals[event.provision_request_id] = Interval(event.created_at, None)
        elif current.end is None and event.from_status in LIVE and event.to_status not in LIVE:
            intervals[event.provision_request_id] = Interval(current.start, event.created_at)
    return intervals


def _rates(request: ProvisionRequest) -> tuple[Decimal, Decimal]:
    estimate = request.cost_estimate or {}
    hours = Decimal(estimate.get("hours") or 0)
    if not hours:
        return Decimal(0), Decimal(0)
    usd = Decimal(estimate.get("usd_exact") or estimate.get("usd") or 0)
    return usd / hours, Decimal(estimate.get("machine_hours") or 0) / hours


def _spend(requests: list[ProvisionRequest], since: datetime, until: datetime) -> list[dict[str, Any]]:
    intervals = live_intervals([request.pk for request in requests])
    lines = []
    for request in requests:
        interval = intervals.get(request.pk)
        if interval is None:
            continue
        hours = interval.hours_within(since, until)
        if hours <= 0:
            continue
        usd_rate, machine_rate = _rates(request)
        lines.append(
            {
                "provision_request": str(request.pk),
                "template": request.template_id,
                "user": request.requested_by.get_username(),
                "live_hours": hours,
                "usd": hours * usd_rate,
                "machine_hours": hours * machine_rate,
            }
        )
    return lines


def spent_so_far(requests: list[ProvisionRequest], *, until: datetime | None = None) -> dict[Any, Decimal]:
    """Each request's estimated spend from its approval until now (or until it stopped being
    live), to the cent, in one query over the audit trail; never-live requests spent nothing."""
    until = until or timezone.now()
    intervals = live_intervals([request.pk for request in requests])
    spent = {}
    for request in requests:
        interval = intervals.get(request.pk)
        hours = interval.hours_within(interval.start, until) if interval is not None else Decimal(0)
        spent[request.pk] = (hours * _rates(request)[0]).quantize(CENT, ROUND_HALF_UP)
    return spent


def _text(value: Decimal, places: Decimal = Decimal("0.000001")) -> str:
    """Money keeps its cents ("2.30"); other quantities drop trailing zeros ("4")."""
    rounded = value.quantize(places, ROUND_HALF_UP)
    return f"{rounded:f}" if places == CENT else f"{rounded.normalize():f}"


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """'2026-11' -> [2026-11-01T00:00Z, 2026-12-01T00:00Z). ValueError when malformed."""
    year_text, _, month_text = month.partition("-")
    year, number = int(year_text), int(month_text)
    if len(year_text) != 4 or not 1 <= number <= 12:
        raise ValueError(month)
    start = datetime(year, number, 1, tzinfo=UTC)
    days = calendar.monthrange(year, number)[1]
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=UTC)
    assert (end - start).days == days
    return start, end


def monthly_bills(*, month: str, user=None) -> dict[str, Any]:
    """Estimated spend per user for the month, with a line per request."""
    since, until = month_bounds(month)
    until_now = min(until, timezone.now())
    queryset = (
        ProvisionRequest.objects.exclude(status__in=NEVER_LIVE)
        .filter(created_at__lt=until)
        .select_related("requested_by")
        .only("pk", "template_id", "cost_estimate", "requested_by__username", "created_at", "status")
    )
    if user is not None:
        queryset = queryset.filter(requested_by=user)
    by_user: dict[str, dict[str, Any]] = {}
    for line in _spend(list(queryset), since, until_now):
        bill = by_user.setdefault(
            line["user"], {"user": line["user"], "usd": Decimal(0), "machine_hours": Decimal(0), "requests": []}
        )
        bill["usd"] += line["usd"]
        bill["machine_hours"] += line["machine_hours"]
        bill["requests"].append(
            {
                **line,
                "live_hours": _text(line["live_hours"], Decimal("0.01")),
                "usd": _text(line["usd"], CENT),
                "machine_hours": _text(line["machine_hours"]),
            }
        )
    bills = []
    for bill in sorted(by_user.values(), key=lambda b: b["user"]):
        bills.append({**bill, "usd": _text(bill["usd"], CENT), "machine_hours": _text(bill["machine_hours"])})
    total = sum((Decimal(bill["usd"]) for bill in bills), Decimal(0))
    return {"month": month, "total_usd": _text(total, CENT), "bills": bills}


def consumed_to_date(*, user) -> dict[str, str]:
    """What the user's outstanding requests (those holding a reservation) have used so far."""
    requests = list(
        ProvisionRequest.objects.filter(requested_by=user, reservation_state=ReservationState.HELD).select_related(
            "requested_by"
        )
    )
    lines = _spend(requests, datetime.min.replace(tzinfo=UTC), timezone.now())
    usd = sum((line["usd"] for line in lines), Decimal(0))
    machine_hours = sum((line["machine_hours"] for line in lines), Decimal(0))
    return {"usd": _text(usd, CENT), "machine_hours": _text(machine_hours), "live_requests": str(len(lines))}
