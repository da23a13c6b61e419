"""Email through Django's email backend (EMAIL_URL): a plain-text body and an HTML alternative.

Every send opens its own connection (``get_connection(timeout=EMAIL_TIMEOUT)``) and closes it, so a
server that went away is simply tried again on the next attempt. SMTP outcomes map onto the channel
errors: no connection, a timeout, a dropped connection or a 4xx reply is a ``ChannelError`` (retried);
a 5xx reply (recipient refused, message rejected, authentication refused) or an address that cannot
be used is a ``PermanentChannelError``.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from notifications.channels.base import (
    NOTIFICATION_HEADER,
    Channel,
    ChannelError,
    Message,
    PermanentChannelError,
    absolute_link,
)

SUBJECT_PREFIX = "[CloudAssist] "
MAX_SUBJECT = 200


def _one_line(text: str) -> str:
    return " ".join(text.split())


def build_email(message: Message) -> EmailMultiAlternatives:
    """The email for ``message`` (user content is escaped in the HTML part)."""
    context = {
        "title": message.title,
        "body": message.body,
        "link": absolute_link(message.link),
        "username": message.recipient_username,
    }
    subject = (SUBJECT_PREFIX + _one_line(message.title))[:MAX_SUBJECT]
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("notifications/email.txt", context).strip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient_email.strip()],
        headers={
            "Auto-Submitted": "auto-generated",  # RFC 3834: no vacation auto-replies
            "X-CloudAssist-Kind": message.kind,
            NOTIFICATION_HEADER: message.notification_id,
        },
    )
    email.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    return email


def _smtp_error(exc: smtplib.SMTPException) -> ChannelError:
    """Temporary (4xx, connection trouble) or permanent (5xx) from an SMTP exception."""
    permanent = False
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        detail = f"SMTP server unavailable: {exc}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        permanent = not replies or any(not 400 <= code < 500 for code, _ in replies)
        verb = "refused" if permanent else "deferred"
        detail = f"SMTP server {verb} the recipient: " + "; ".join(f"{code} {_text(text)}" for code, text in replies)
    elif isinstance(exc, smtplib.SMTPResponseException):
        permanent = 500 <= exc.smtp_code < 600
        verb = "rejected" if permanent else "deferred"
        detail = f"SMTP server {verb} the message: {exc.smtp_code} {_text(exc.smtp_error)}"
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        permanent = True
        detail = f"SMTP server does not support what EMAIL_URL asks for: {exc}"
    else:
        detail = f"SMTP error: {exc}"
    return PermanentChannelError(detail) if permanent else ChannelError(detail)


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return _one_line(text)[:200]


class EmailChannel(Channel):
    name = "email"

    def send(self, message: Message) -> None:
        if not message.recipient_email.strip():
            raise PermanentChannelError(f"{message.recipient_username or 'the recipient'} has no email address")
        try:
            email = build_email(message)
            connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT)
            sent = connection.send_messages([email])
        except smtplib.SMTPException as exc:  # before OSError: SMTPException is an OSError
            raise _smtp_error(exc) from exc
        except TimeoutError as exc:
            raise ChannelError(f"SMTP server did not answer within {settings.EMAIL_TIMEOUT} s") from exc
        except OSError as exc:  # connection refused, DNS failure, TLS handshake, reset
            raise ChannelError(f"SMTP server unreachable ({settings.EMAIL_HOST}:{settings.EMAIL_PORT}): {exc}") from exc
        except ValueError as exc:  # an address Django cannot encode, a header with a newline
            raise PermanentChannelError(f"the email cannot be built: {exc}") from exc
        if not sent:
            raise ChannelError("the email backend sent nothing")
