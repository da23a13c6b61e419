"""How the portal shows money, an estimate and a quota preview (pure: the services' dicts in,
words and numbers out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
NOTHING = "—"


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def money(value: Any) -> str:
    """Dollars with cents: ``$1,234.50``, ``-$3.00``; ``—`` for nothing or not a number."""
    number = to_decimal(value)
    if number is None:
        return NOTHING
    cents = number.quantize(CENT, ROUND_HALF_UP)
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents):,.2f}"


def _amount(value: Decimal, *, dollars: bool) -> str:
    return money(value) if dollars else f"{value.normalize():f}"


# name in the quota breakdown, words, whether it is money
DIMENSIONS = (
    ("usd", "", True),
    ("live_environments", "live environments", False),
    ("machine_hours", "machine-hours", False),
    ("disk_gb_hours", "disk GB-hours", False),
)


@dataclass(frozen=True)
class QuotaLine:
    text: str
    exceeded: bool
    percent_used: int  # after this request, 0..100 (for a bar)


@dataclass(frozen=True)
class QuotaPreview:
    fits: bool
    message: str  # why it does not fit; empty when it fits
    lines: list[QuotaLine]
    unlimited: bool  # no limit applies to the user


def quota_preview(preview: dict[str, Any], *, estimate: dict[str, Any]) -> QuotaPreview:
    """``preview``: ``quotas.services.preview``'s answer (as ``estimate_request``'s ``quota``);
    ``estimate``: the estimate's ``as_dict()``. One line per limited dimension: what is left after
    this request ("$12.40 of your $50.00 left after this request"), or by how much it is over."""
    this_request = {
        "usd": to_decimal(estimate.get("usd")) or Decimal(0),
        "live_environments": Decimal(1),
        "machine_hours": to_decimal(estimate.get("machine_hours")) or Decimal(0),
        "disk_gb_hours": to_decimal(estimate.get("disk_gb_hours")) or Decimal(0),
    }
    by_name = preview.get("dimensions") if preview.get("fits") else preview.get("quota")
    lines = []
    for name, words, dollars in DIMENSIONS:
        row = (by_name or {}).get(name) or {}
        limit = to_decimal(row.get("limit"))
        if limit is None:
            continue
        reserved = to_decimal(row.get("reserved")) or Decimal(0)
        wanted = to_decimal(row.get("this_request")) if "this_request" in row else this_request[name]
        left = limit - reserved - (wanted or Decimal(0))
        percent = 100 if limit <= 0 else int(min(max((limit - left) / limit * 100, 0), 100))
        of_limit = f"your {_amount(limit, dollars=dollars)}" + (f" {words}" if words else "")
        if left < 0:
            text = f"{_amount(-left, dollars=dollars)} over {of_limit} with this request"
        else:
            text = f"{_amount(left, dollars=dollars)} of {of_limit} left after this request"
        lines.append(QuotaLine(text=text, exceeded=left < 0, percent_used=percent))
    fits = bool(preview.get("fits"))
    return QuotaPreview(
        fits=fits, message="" if fits else str(preview.get("message", "")), lines=lines, unlimited=not lines
    )


# --- the request page: rates, quantities, values, times -----------------------------------------


def price(value: Any) -> str:
    """Dollars with every significant digit, at least the cents: ``$0.0496``, ``$0.10``, ``$1,234.50``.
    A rate is shown as the price list gives it (rounding $0.0496 to $0.05 misstates it by 1%)."""
    number = to_decimal(value)
    if number is None:
        return NOTHING
    exponent = number.normalize().as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    sign = "-" if number < 0 else ""
    return f"{sign}${abs(number):,.{places}f}"


def rate(usd_rate: Any, rate_unit: Any) -> str:
    """ "$0.0496 per instance-hour": the currency once (the estimate's unit reads "USD per ...")."""
    per = str(rate_unit or "").strip().removeprefix("USD").strip()
    shown = price(usd_rate)
    return f"{shown} {per}" if per and shown != NOTHING else shown


def number(value: Any) -> str:
    """A quantity without trailing zeros: ``4``, ``0.5``, ``1,200``."""
    amount = to_decimal(value)
    if amount is None:
        return NOTHING
    text = f"{amount.normalize():,f}"
    return text


def plural(count: Any, unit: str) -> str:
    """ "1 cluster", "2 clusters", "40 GB": a unit given in the plural ("clusters", "instances") is
    made singular for exactly one; a unit not ending in "s" ("GB") is left as it is."""
    amount = to_decimal(count)
    unit = str(unit or "").strip()
    if amount is None:
        return f"{NOTHING} {unit}".strip()
    if amount == 1 and unit.endswith("s") and not unit.endswith("ss"):
        unit = unit[:-1]
    elif amount != 1 and unit in ("hour", "day", "item", "cluster", "instance", "machine"):
        unit += "s"
    return f"{number(amount)} {unit}".strip()


def hours(value: Any) -> str:
    """ "1 hour", "8 hours", "0.5 hours"."""
    return plural(value, "hour")


def value_text(value: Any) -> str:
    """A parameter's value for people: Yes/No for booleans, lists joined, nothing as a dash."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(value_text(item) for item in value) or NOTHING
    if isinstance(value, dict):
        return ", ".join(f"{key}: {value_text(item)}" for key, item in value.items()) or NOTHING
    return str(value)


@dataclass(frozen=True)
class When:
    """A moment as a page shows it: ``iso`` for ``<time datetime>``, ``text`` to read, ``exact``
    on hover. Both in the zone given (the server's; portal/static/portal/localtime.js turns them
    into the browser's own zone)."""

    iso: str
    text: str
    exact: str


def to_datetime(value: Any) -> datetime | None:
    """A datetime, or an ISO 8601 text (an approval's ``at``); None for anything else."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def when(value: Any, *, now: datetime, zone: tzinfo | None = None) -> When | None:
    """ "8 Dec, 14:05 UTC" (the year too when it is not this year), exactly "Tuesday 8 December
    2026, 14:05:32 UTC"; None for no time."""
    moment = to_datetime(value)
    if moment is None:
        return None
    zone = zone or UTC
    local, today = moment.astimezone(zone), now.astimezone(zone)
    name = local.tzname() or ""
    day = f"{local.day} {local:%b}" + ("" if local.year == today.year else f" {local.year}")
    text = f"{day}, {local:%H:%M} {name}".strip()
    exact = f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M:%S} {name}".strip()
    return When(iso=moment.astimezone(UTC).isoformat(timespec="seconds"), text=text, exact=exact)
