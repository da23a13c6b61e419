"""How the portal shows money, an estimate and a quota preview (pure: the services' dicts in,
words and numbers out)."""

from __future__ import annotations

from dataclasses import dataclass
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
