"""Webhook: a Slack-compatible JSON POST to the user's (else their role's) URL, signed with HMAC-SHA256.

The body is what a Slack incoming webhook (or Mattermost, Rocket.Chat, ...) accepts, plus a
``cloudassist`` object for programs::

    {"text": "*<title>*\\n<body>\\n<link>",
     "blocks": [{"type": "section", ...}, {"type": "actions", ...}],
     "cloudassist": {"kind": "provisioned", "notification_id": "...", "link": "https://..."}}

Signature, for receivers that want to check the request came from CloudAssist::

    X-CloudAssist-Timestamp: 1767225600                 (Unix seconds when it was sent)
    X-CloudAssist-Signature: sha256=<hex digest>
    digest = HMAC-SHA256(key=WEBHOOK_SIGNING_SECRET, msg=b"<timestamp>." + <raw request body>)

To verify: recompute the digest over the raw body bytes as received (before any JSON parsing),
compare in constant time, and reject timestamps more than a few minutes away from now (replays).
``verify_signature()`` below does exactly that. Retries are new requests with a new timestamp.

Outcomes: 2xx is delivered; 408, 429, 5xx, timeouts and connection errors are ``ChannelError``
(retried); other statuses, redirects (not followed: a POST must not turn into a GET elsewhere), a
URL that is not http(s) and a missing secret are ``PermanentChannelError``. Errors never contain
the URL's path or query (Slack-style URLs carry a token) nor more than 200 characters of a response.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

from notifications.channels.base import Channel, ChannelError, Message, PermanentChannelError, absolute_link

SIGNATURE_HEADER = "X-CloudAssist-Signature"
TIMESTAMP_HEADER = "X-CloudAssist-Timestamp"
USER_AGENT = "CloudAssist-Webhook/1.0"
MAX_ERROR_BODY = 200
SLACK_SECTION_LIMIT = 3000
RETRIED_STATUSES = frozenset({408, 425, 429})


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header's value: ``sha256=<hex HMAC-SHA256 of b"<timestamp>." + body>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str, timestamp: int | str, body: bytes, signature: str, tolerance: int = 300, *, now: float | None = None
) -> bool:
    """Whether ``signature`` is ours for ``body`` sent at ``timestamp``, within ``tolerance`` seconds of now."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent_at, body).encode(), (signature or "").strip().encode())


def _mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_payload(message: Message) -> dict:
    """The Slack-compatible JSON for ``message``."""
    link = absolute_link(message.link)
    title = " ".join(message.title.split())
    lines = [f"*{_mrkdwn(title)}*", _mrkdwn(message.body.strip())]
    if link:
        lines.append(f"<{link}>")
    text = "\n".join(line for line in lines if line)
    section = f"*{_mrkdwn(title)}*\n{_mrkdwn(message.body.strip())}".strip()
    if len(section) > SLACK_SECTION_LIMIT:
        section = section[: SLACK_SECTION_LIMIT - 1] + "…"
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": section}}]
    if link:
        button = {"type": "button", "text": {"type": "plain_text", "text": "Open in CloudAssist"}, "url": link}
        blocks.append({"type": "actions", "elements": [button]})
    return {
        "text": text,
        "blocks": blocks,
        "cloudassist": {"kind": message.kind, "notification_id": message.notification_id, "link": link},
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0917 - urllib's signature
        return None  # the 3xx reaches us as an HTTPError


_opener = urllib.request.build_opener(_NoRedirect)


def _snippet(response) -> str:
    try:
        raw = response.read(MAX_ERROR_BODY * 4)
    except (OSError, http.client.HTTPException):
        return ""
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text[:MAX_ERROR_BODY]


class WebhookChannel(Channel):
    name = "webhook"

    def send(self, message: Message) -> None:
        url = (message.webhook_url or "").strip()
        if not url:
            raise PermanentChannelError(f"{message.recipient_username or 'the recipient'} has no webhook URL")
        try:
            parts = urlsplit(url)
            host, _ = parts.hostname, parts.port  # .port raises ValueError for a bad port
        except ValueError:
            raise PermanentChannelError("the webhook URL is malformed") from None
        if parts.scheme.lower() not in ("http", "https") or not host:
            raise PermanentChannelError(f"the webhook URL must be http(s) with a host, not '{parts.scheme}:...'")
        secret = settings.WEBHOOK_SIGNING_SECRET
        if not secret:
            raise PermanentChannelError("WEBHOOK_SIGNING_SECRET is not set: webhooks are never sent unsigned")

        where = f"{parts.scheme.lower()}://{parts.netloc.rpartition('@')[2]}"  # no path, query or user info
        body = json.dumps(build_payload(message), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(time.time())
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(secret, timestamp, body),
            },
        )
        timeout = settings.WEBHOOK_TIMEOUT_SECONDS
        try:
            with _opener.open(request, timeout=timeout) as response:
                response.read(64 * 1024)  # drain a little so keep-alive servers see a clean close
        except urllib.error.HTTPError as exc:
            with exc:
                status, snippet = exc.code, _snippet(exc)
            detail = f"{where} answered HTTP {status}" + (f": {snippet}" if snippet else "")
            if status in RETRIED_STATUSES or status >= 500:
                raise ChannelError(detail) from None
            if 300 <= status < 400:
                raise PermanentChannelError(f"{where} answered a redirect (HTTP {status}), not followed") from None
            raise PermanentChannelError(detail) from None
        except TimeoutError:
            raise ChannelError(f"{where} did not answer within {timeout} s") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise ChannelError(f"{where} did not answer within {timeout} s") from None
            raise ChannelError(f"{where} unreachable: {reason}") from None
        except http.client.InvalidURL:
            raise PermanentChannelError("the webhook URL is malformed") from None
        except (OSError, http.client.HTTPException) as exc:  # reset, bad status line, TLS failure
            raise ChannelError(f"{where} failed: {type(exc).__name__}: {str(exc)[:MAX_ERROR_BODY]}") from None
