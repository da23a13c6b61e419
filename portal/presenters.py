"""What the developer's pages show, computed from what services and selectors return: status
groups and badges, time left, the action buttons valid now, quota bars and the spend chart.
No queries here beyond the selectors called by ``environment_rows``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from portal import display
from provisioning import bills, selectors, services, transitions
from provisioning import wording as request_wording
from provisioning.choices import LIVE, ExtensionSlot, RequestStatus, RequestType
from templates import wording

R = RequestStatus
CENT = Decimal("0.01")
TIMES = "\N{MULTIPLICATION SIGN}"
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
        request.four_eyes_waiting = request_wording.waiting_for_approval(request) if waiting else ""
    return requests


def form_problems(form) -> dict[str, list[str]]:
    """What the live estimate lists of a request form (``portal.forms.request.RequestForm``):
    ``problems``, each naming its field by its label; ``needed``, the labels of required fields
    still empty: not an error (the field may not have been touched yet), only what the price waits for."""
    problems, needed = list(form.errors), []
    for part in (form.parameters, form.details):
        for name, errors in part.errors.as_data().items():
            label = str(part[name].label) if name in part.fields else ""
            for error in errors:
                if error.code == "required":
                    needed.append(label or "a required value")
                    continue
                for text in error:
                    named = not label or text.lower().startswith(label.lower())
                    problems.append(text if named else f"{label}: {text}")
    return {"problems": problems, "needed": needed}


# --- the request page ------------------------------------------------------------------------


def parameter_rows(request) -> list[dict[str, str]]:
    """The request's parameters as the page lists them: each labelled by its schema's ``title``
    (else its name in words), in the schema's order, its value in words (Yes/No for booleans)."""
    schema = (request.template_snapshot or {}).get("parameters_schema") or {}
    properties = schema.get("properties") if isinstance(schema, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    parameters = request.parameters if isinstance(request.parameters, dict) else {}
    names = [name for name in properties if name in parameters] + [n for n in parameters if n not in properties]
    return [
        {
            "name": name,
            "label": wording.label(name, properties.get(name)),
            "value": display.value_text(parameters[name]),
        }
        for name in names
    ]


# Why a request that is not live cannot be extended, by its status.
NO_EXTENSION = {
    R.REQUESTED: "Not yet: an extension can be asked for once the request is approved.",
    R.REJECTED: "Not available: the request was rejected.",
    R.REVOKED: "Not available: the request was revoked.",
    R.TIMED_OUT: "Not available: the request was not reviewed in time.",
    R.FAILED: "Not available: provisioning failed.",
    R.EXPIRED: "Not available: the environment has expired.",
    R.PURGE_INITIATED: "Not available: the environment is being purged.",
    R.PURGED: "Not available: the environment was purged.",
    R.PURGE_FAILED: "Not available: the environment is being purged.",
}


def extension_text(request) -> str:
    """The extension section's sentence, true for the request's status and the slot."""
    if request.extension_slot == ExtensionSlot.PENDING:
        return "An extension request is pending review."
    if request.extension_slot == ExtensionSlot.USED:
        return "The one extension was approved; there can be no other."
    if request.request_type == RequestType.PERMANENT:
        return "Not needed: a permanent environment does not expire."
    if request.status in LIVE:
        if getattr(request, "can_extend", True):
            return "Available: you may ask once for more time."
        return "Available once: the requester may ask for more time."
    return NO_EXTENSION.get(request.status, "Not available.")


def approval_rows(request) -> list[dict]:
    """Who approved and when (``at`` a datetime for the page's ``when`` filter)."""
    return [
        {
            "username": approval.get("username", ""),
            "at": display.to_datetime(approval.get("at")),
            "note": approval.get("note", ""),
        }
        for approval in request.approvals or []
        if isinstance(approval, dict)
    ]


def estimate_summary(estimate: dict | None) -> dict:
    """What the request page's estimate shows: line items (quantity, rate and hours in words), the
    total, and, for a resource billed by use (no line items: S3), the estimate's own note, as the
    catalog says it."""
    estimate = estimate if isinstance(estimate, dict) else {}
    items = [
        {
            "description": item.get("description", ""),
            "quantity": f"{display.plural(item.get('quantity'), item.get('unit'))} {TIMES} "
            f"{display.hours(item.get('hours'))}",
            "rate": display.rate(item.get("usd_rate"), item.get("rate_unit")),
            "usd": item.get("usd"),
        }
        for item in estimate.get("line_items") or []
        if isinstance(item, dict)
    ]
    notes = [str(note) for note in estimate.get("notes") or []]
    if not items and not notes:
        notes = ["Billed by use: not estimated in advance." if estimate else "No estimate was recorded."]
    return {
        "items": items,
        "usd": estimate.get("usd"),
        "hours": display.hours(estimate.get("hours")) if estimate.get("hours") is not None else "",
        "notes": notes,
    }


def any_working(requests) -> bool:
    return any(request.status in WORKING for request in requests)


# --- usage ------------------------------------------------------------------------------------

# name: label, whether it is money, the unit after a figure, the consumed_to_date figure used so far
DIMENSION_LABELS = {
    "usd": ("Budget", True, "", "usd"),
    "live_environments": ("Live environments", False, "", None),  # reserved = live: nothing apart
    "machine_hours": ("Machine-hours", False, "machine-hours", "machine_hours"),
    "disk_gb_hours": ("Disk GB-hours", False, "GB-hours", None),
}


def _figure(value, *, money: bool, unit: str) -> str:
    if money:
        return display.money(value)
    return f"{display.number(value)} {unit}".strip()


def quota_bars(report: dict) -> list[dict]:
    """One row per quota dimension: what the outstanding requests reserve (their whole estimate,
    held from approval) of the limit, as a bar capped at 100%, and apart from it what they have
    used so far (consumed_to_date); each figure in words with its unit once."""
    consumed = report.get("consumed_to_date") or {}
    bars = []
    for name, (label, is_money, unit, used_key) in DIMENSION_LABELS.items():
        figures = report["dimensions"].get(name)
        if figures is None:
            continue
        reserved = Decimal(figures["reserved"])
        limit = None if figures["limit"] is None else Decimal(figures["limit"])
        percent = None
        if limit is not None:
            percent = 100 if limit <= 0 else min(int(reserved * 100 / limit), 100)
        level = "" if percent is None else ("bad" if percent >= 100 else "warn" if percent >= 80 else "ok")
        shown = {"money": is_money, "unit": unit}
        if limit is None:
            reserved_text = f"{_figure(reserved, **shown)} reserved · no limit"
        else:
            reserved_text = (
                f"{_figure(reserved, **shown)} reserved of {_figure(limit, **shown)}"
                f" ({_figure(figures['available'], **shown)} left)"
            )
        used = consumed.get(used_key) if used_key else None
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
                "reserved_text": reserved_text,
                "used_text": None if used is None or not used_key else f"{_figure(used, **shown)} used so far",
            }
        )
    return bars


def request_names(user, request_ids) -> dict[str, str]:
    """How the usage page names each request: its description (first line), else its template and
    a short id (two requests of one template are told apart). One query, by primary key."""
    rows = selectors.requests_for(user).filter(pk__in=list(request_ids)).only("pk", "description", "template_id")
    names = {}
    for row in rows:
        first_line = (row.description or "").strip().splitlines()[0] if (row.description or "").strip() else ""
        names[str(row.pk)] = first_line or f"{row.template_id} ({str(row.pk)[-6:]})"
    return names


CHART_WIDTH, BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, VALUE_WIDTH = 640, 22, 8, 200, 80


def spend_chart(lines: list[dict], names: dict[str, str] | None = None) -> dict:
    """An inline SVG bar chart of this month's spend per request: bar geometry, labels (the
    request's name from ``names``, else its template) and values. Nothing spent: no bar at all
    (not a hairline)."""
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
                "label": (names or {}).get(line["provision_request"]) or line["template"],
                "usd": line["usd"],
                "y": y,
                "text_y": y + BAR_HEIGHT - 6,
                "width": max(width, 1) if amount >= CENT else 0,
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
