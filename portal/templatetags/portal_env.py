"""Template tags of the developer's pages: the notifications bell, status badges, time left."""

from django import template
from django.utils import timezone

from notifications import selectors as notification_selectors
from portal import presenters

register = template.Library()


@register.inclusion_tag("portal/_bell.html", takes_context=True)
def notification_bell(context):
    """The bell with the unread count (one indexed count per page)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return {"unread": notification_selectors.unread_count(user=user)}


@register.filter
def status_class(status: str) -> str:
    """The badge colour of a status group: ok, info (working), warn, bad, or plain."""
    return presenters.status_class(status)


@register.filter
def time_left(expires_at) -> str:
    return presenters.time_left(expires_at, now=timezone.now())


@register.filter
def action_label(action: str) -> str:
    """An audit action as words: "start_purge" -> "start purge"."""
    return str(action).replace("_", " ")
