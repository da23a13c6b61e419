"""Template filters of the portal: ``{% load portal %}``.

``money``: dollars with cents, ``{{ "1234.5"|money }}`` → ``$1,234.50`` (negative: ``-$3.00``;
empty or not a number: ``—``). Takes a Decimal, an int, a float or the API's decimal strings.
"""

from __future__ import annotations

from django import template

from portal.display import money as _money

register = template.Library()


@register.filter
def money(value) -> str:
    return _money(value)
