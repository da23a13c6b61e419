"""Template filters of the portal: ``{% load portal %}``.

``money``: dollars with cents, ``{{ "1234.5"|money }}`` → ``$1,234.50`` (negative: ``-$3.00``;
empty or not a number: ``—``). Takes a Decimal, an int, a float or the API's decimal strings.
``rate``: a price with its unit written once, ``{{ item.usd_rate|rate:item.rate_unit }}`` →
``$0.0496 per instance-hour`` (every significant digit kept).
``count``: ``{{ item.quantity|count:item.unit }}`` → ``1 cluster``, ``2 instances``.
``hours``: ``1 hour``, ``8 hours``. ``value``: a parameter's value, Yes/No for booleans.
``when``: ``<time datetime="…" title="Tuesday 8 December 2026, 14:05:32 UTC">8 Dec, 14:05 UTC</time>``
(a datetime or an ISO text; portal/static/portal/localtime.js shows it in the browser's zone).
"""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.html import format_html

from portal import display

register = template.Library()


@register.filter
def money(value) -> str:
    return display.money(value)


@register.filter
def rate(value, unit="") -> str:
    return display.rate(value, unit)


@register.filter
def count(value, unit="") -> str:
    return display.plural(value, unit)


@register.filter
def hours(value) -> str:
    return display.hours(value)


@register.filter
def value(value) -> str:
    return display.value_text(value)


@register.filter
def when(value) -> str:
    shown = display.when(value, now=timezone.now(), zone=timezone.get_current_timezone())
    if shown is None:
        return display.NOTHING
    return format_html('<time datetime="{}" title="{}" data-local="true">{}</time>', shown.iso, shown.exact, shown.text)
