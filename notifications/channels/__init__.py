"""Delivery channels behind one interface: ``send(message)``; ``get(name)`` returns one."""

from __future__ import annotations

from notifications.channels import email, in_app, webhook
from notifications.channels.base import ChannelError, Message, PermanentChannelError


def get(name: str):
    channels = {"email": email.EmailChannel, "webhook": webhook.WebhookChannel, "in_app": in_app.InAppChannel}
    return channels[name]()


__all__ = ["ChannelError", "Message", "PermanentChannelError", "get"]
