"""The portal's template filters: money as dollars with cents."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def money(value) -> str:
    """A Decimal or a decimal string as dollars with cents: "12.4" -> "$12.40"; "" for nothing."""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return ""
    return f"-${-amount:f}" if amount < 0 else f"${amount:f}"
