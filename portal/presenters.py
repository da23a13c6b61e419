"""What the developer's pages show, computed from what services and selectors return: status
groups and badges, time left, the action buttons valid now, quota bars and the spend chart.
No queries here beyond the selectors called by ``environment_rows``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from provisioning import bills, selectors, services, transitions, wording
from provisioning.choices import LIVE, RequestStatus

R = RequestStatus
# Statuses a worker is moving on from by itself: the environments table polls while a row has one.
WORKING = frozenset({R.APPROVED, R.INITIATED, R.PURGE_INITIATED, R.EXPIRED})
STATUS_CLASSES = {
    R.DEPLOYED: "ok",
    R.APPROVED: "info",
    R.INITIATED: "info",
    R.PURGE_INITIATED: "info",
    R.REQUESTED: "warn",
    R.EXPIRED: "warn",
    R.FAILED: "bad",
    R.PURGE_FAILED: "bad",
    R.REJECTED: "bad",
    R.TIMED_OUT: "bad",
}


@dataclass(frozen=True)
class Button:
    """A move the portal offers as a button: its URL slug, the transition it makes, its label."""

    slug: str
    move: str
    label: str
    style: str
    service: object
    confirm: bool = False  # destructive: the portal shows what it costs before doing it


# The moves a requester makes from the portal (reviewers approve and reject in the console).
BUTTONS = (
    Button("retry", "retry", "Retry", "", services.retry_provisioning),
    Button("purge", "start_purge", "Purge", "danger", services.start_purge, confirm=True),
    Button("revoke", "revoke", "Revoke", "secondary", services.revoke_request, confirm=True),
)
BUTTONS_BY_SLUG = {button.slug: button for button in BUTTONS}


# The request page's heading over its plan, by where the request is in its life.
PLAN_HEADINGS = {
    **dict.fromkeys((R.REQUESTED, R.APPROVED, R.INITIATED), "What will be created"),
    **dict.fromkeys((R.DEPLOYED, R.EXPIRED, R.PURGE_INITIATED, R.PURGE_FAILED, R.PURGED), "What was created"),
    **dict.fromkeys((R.REVOKED, R.REJECTED, R.TIMED_OUT), "What would have been created"),
    R.FAILED: "What was to be created",
}


def plan_summary(plan: dict | None, *, status: str | None = None) -> dict | None:
    """A stored or dry-run plan (``Plan.as_dict()``) as the pages show it: a heading for the
    request's status, the provider, and each resource's summary; None without a plan."""
    if not isinstance(plan, dict):
        return None
    resources = [
        {"kind": resource.get("kind", ""), "name": resource.get("name", ""), "summary": resource.get("summary", "")}
        for resource in plan.get("resources") or []
        if isinstance(resource, dict)
    ]
    return {
        "heading": PLAN_HEADINGS.get(status, "What will be created"),
        "provider": plan.get("provider", ""),
        "resources": resources,
    }


def status_class(status: str) -> str:
    return STATUS_CLASSES.get(status, "")


def time_left(expires_at: datetime | None, *, now: datetime) -> str:
    """ "2 d 4 h", "3 h 20 min", "12 min"; "expired" once past; "never" without an expiry."""
    if expires_at is None:
        return "never"
    seconds = int((expires_at - now).total_seconds())
    if seconds <= 0:
        return "expired"
    minutes = seconds // 60
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{max(minutes, 1)} min"


def buttons_for(request, *, user) -> list[Button]:
    """The buttons valid now: the moves the transition table and ``authorize`` allow this user."""
    permitted = set(transitions.permitted_actions(request, user=user))
    return [button for button in BUTTONS if button.move in permitted]


def decorate(requests: list, *, user) -> list:
    """Give each request of a page what its row shows: buttons, extension offer, spend so far and
    its secret's kind (two queries for the page: the audit trail's live intervals and the kinds)."""
    spent = bills.spent_so_far(requests)
    deployed = [request.pk for request in requests if request.status == R.DEPLOYED]
    kinds = selectors.secret_kinds(deployed)
    for request in requests:
        request.buttons = buttons_for(request, user=user)
        request.can_extend = services.extension_available(actor=user, request=request)
        request.spent = spent[request.pk]
        request.secret_kind = kinds.get(request.pk)
        request.is_live = request.status in LIVE
        request.working = request.status in WORKING
        waiting = request.status == R.REQUESTED and 0 < len(request.approvals or []) < request.required_approvals
        request.four_eyes_waiting = wording.waiting_for_approval(request) if waiting else ""
    return requests


def any_working(requests) -> bool:
    return any(request.status in WORKING for request in requests)


# --- usage ------------------------------------------------------------------------------------

DIMENSION_LABELS = {
    "usd": ("Budget", True),
    "live_environments": ("Live environments", False),
    "machine_hours": ("Machine-hours", False),
    "disk_gb_hours": ("Disk GB-hours", False),
}


def quota_bars(report: dict) -> list[dict]:
    """One bar per quota dimension: used (reserved) of the limit, as a percentage (capped at 100)."""
    bars = []
    for name, (label, is_money) in DIMENSION_LABELS.items():
        figures = report["dimensions"].get(name)
        if figures is None:
            continue
        used = Decimal(figures["reserved"])
        limit = None if figures["limit"] is None else Decimal(figures["limit"])
        percent = None
        if limit is not None:
            percent = 100 if limit <= 0 else min(int(used * 100 / limit), 100)
        level = "" if percent is None else ("bad" if percent >= 100 else "warn" if percent >= 80 else "ok")
        bars.append(
            {
                "name": name,
                "label": label,
                "money": is_money,
                "used": figures["reserved"],
                "limit": figures["limit"],
                "available": figures["available"],
                "percent": percent,
                "level": level,
            }
        )
    return bars


CHART_WIDTH, BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, VALUE_WIDTH = 640, 22, 8, 200, 80


def spend_chart(lines: list[dict]) -> dict:
    """An inline SVG bar chart of this month's spend per request: bar geometry, labels and values."""
    amounts = [Decimal(line["usd"]) for line in lines]
    top = max(amounts, default=Decimal(0))
    room = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = []
    for index, (line, amount) in enumerate(zip(lines, amounts, strict=True)):
        width = int(room * amount / top) if top > 0 else 0
        y = index * (BAR_HEIGHT + BAR_GAP)
        bars.append(
            {
                "request": line["provision_request"],
                "label": line["template"],
                "usd": line["usd"],
                "y": y,
                "text_y": y + BAR_HEIGHT - 6,
                "width": max(width, 1),
            }
        )
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": max(len(bars) * (BAR_HEIGHT + BAR_GAP), BAR_HEIGHT),
        "bar_height": BAR_HEIGHT,
        "label_width": LABEL_WIDTH,
        "value_x": CHART_WIDTH - VALUE_WIDTH + 8,
    }
