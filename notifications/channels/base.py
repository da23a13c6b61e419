"""What a channel receives and may raise."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

# Every email and webhook of a notification carries its id: the same on a retry, so receivers can
# drop a second copy (delivery is at least once).
NOTIFICATION_HEADER = "X-CloudAssist-Notification"


class ChannelError(Exception):
    """Delivery failed but may work later (server down, timeout, 5xx): retried with backoff."""


class PermanentChannelError(ChannelError):
    """Delivery can never work as configured (no address, no webhook URL, 4xx): not retried."""


@dataclass(frozen=True)
class Message:
    """One notification as a channel sees it (never a secret)."""

    notification_id: str
    kind: str
    title: str
    body: str
    link: str
    recipient_username: str
    recipient_email: str
    webhook_url: str  # the user's own, else their role's; empty when none


class Channel:
    name = ""

    def send(self, message: Message) -> None:
        """Deliver or raise ChannelError / PermanentChannelError. Never log secrets."""
        raise NotImplementedError


def absolute_link(link: str) -> str:
    """``link`` as an absolute http(s) URL: a path is joined to SITE_URL; anything else is dropped."""
    link = (link or "").strip()
    if link.startswith("/") and not link.startswith("//"):
        return settings.SITE_URL.rstrip("/") + link
    if link.lower().startswith(("http://", "https://")):
        return link
    return ""
