"""Webhook: a Slack-compatible JSON POST to the user's (else their role's) URL, signed with HMAC-SHA256.

The body is what a Slack incoming webhook (or Mattermost, Rocket.Chat, ...) accepts, plus a
``cloudassist`` object for programs::

    {"text": "*<title>*\\n<body>\\n<link>",
     "blocks": [{"type": "section", ...}, {"type": "actions", ...}],
     "cloudassist": {"kind": "provisioned", "notification_id": "...", "link": "https://..."}}

Signature, for receivers that want to check the request came from CloudAssist::

    X-CloudAssist-Timestamp: 1767225600                 (Unix seconds when it was sent)
    X-CloudAssist-Signature: sha256=<hex digest>
    X-CloudAssist-Notification: <notification id>       (the same on every retry: deduplicate on it)
    digest = HMAC-SHA256(key=WEBHOOK_SIGNING_SECRET, msg=b"<timestamp>." + <raw request body>)

To verify: recompute the digest over the raw body bytes as received (before any JSON parsing),
compare in constant time, and reject timestamps more than a few minutes away from now (replays).
``verify_signature()`` below does exactly that. Retries are new requests with a new timestamp.

Where it may go: the host is resolved once, every address it resolves to is checked (no loopback,
private, link-local, metadata, ... address unless WEBHOOK_ALLOWED_NETWORKS / WEBHOOK_ALLOWED_HOSTS
allow it: notifications/channels/destinations.py) and the request connects to a checked address,
with the URL's host as Host header, TLS SNI and certificate name.

Outcomes: 2xx is delivered; 408, 425, 429, 5xx, timeouts, connection errors and a name that does not
resolve are ``ChannelError`` (retried); other statuses, redirects (never followed: a POST must not
turn into a GET elsewhere, nor go to an unchecked address), a URL that is not http(s), an address not
allowed and a missing secret are ``PermanentChannelError``. Errors say what failed (the status code,
"address not allowed", a timeout) and never contain the URL's path or query (Slack-style URLs carry
a token) nor anything of the response's body.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time

import urllib3
from django.conf import settings

from notifications.channels import destinations
from notifications.channels.base import (
    NOTIFICATION_HEADER,
    Channel,
    ChannelError,
    Message,
    PermanentChannelError,
    absolute_link,
)

SIGNATURE_HEADER = "X-CloudAssist-Signature"
TIMESTAMP_HEADER = "X-CloudAssist-Timestamp"
USER_AGENT = "CloudAssist-Webhook/1.0"
MAX_ERROR_DETAIL = 200
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


def _reason(exc: BaseException) -> str:
    """A short cause for a connection failure ("Connection refused"), without URLs or bodies."""
    while exc.__context__ is not None and not isinstance(exc, OSError | urllib3.exceptions.ProtocolError):
        exc = exc.__context__
    cause = getattr(exc, "reason", None) or exc
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    text = str(cause).split(": ")[-1].strip()
    return text[:MAX_ERROR_DETAIL] or type(cause).__name__


def _post(destination: destinations.Destination, address: str, body: bytes, headers: dict, timeout: float) -> int:
    """POST ``body`` to ``address`` (already checked), as ``destination``'s host: Host header, TLS
    SNI and certificate name. No redirects followed, no retries; the status is returned."""
    pool_kwargs = {"timeout": urllib3.Timeout(connect=timeout, read=timeout), "retries": False, "maxsize": 1}
    if destination.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            destination.port,
            server_hostname=destination.hostname,
            assert_hostname=destination.hostname,
            cert_reqs="CERT_REQUIRED",
            **pool_kwargs,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, destination.port, **pool_kwargs)
    with pool:
        response = pool.urlopen(
            "POST",
            destination.target,
            body=body,
            headers={**headers, "Host": destination.host_header},
            redirect=False,
            assert_same_host=False,
            preload_content=False,
        )
        response.close()  # the body is never read: the status says enough, and a slow body holds nothing
        return response.status


class WebhookChannel(Channel):
    name = "webhook"

    def send(self, message: Message) -> None:
        url = (message.webhook_url or "").strip()
        if not url:
            raise PermanentChannelError(f"{message.recipient_username or 'the recipient'} has no webhook URL")
        destination = destinations.resolve(url)  # resolved once and checked: raises when not allowed
        secret = settings.WEBHOOK_SIGNING_SECRET
        if not secret:
            raise PermanentChannelError("WEBHOOK_SIGNING_SECRET is not set: webhooks are never sent unsigned")

        where = destination.where
        body = json.dumps(build_payload(message), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            NOTIFICATION_HEADER: message.notification_id,
        }
        timeout = settings.WEBHOOK_TIMEOUT_SECONDS
        status = None
        unreachable = ""
        for address in destination.addresses:  # every one checked; the next if one refuses connections
            try:
                status = _post(destination, address, body, headers, timeout)
                break
            except urllib3.exceptions.NewConnectionError as exc:
                unreachable = _reason(exc)
            except urllib3.exceptions.TimeoutError:
                raise ChannelError(f"{where} did not answer within {timeout} s") from None
            except urllib3.exceptions.SSLError as exc:
                raise ChannelError(f"{where} failed: TLS error: {_reason(exc)}") from None
            except urllib3.exceptions.LocationValueError:
                raise PermanentChannelError("the webhook URL is malformed") from None
            except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as exc:
                raise ChannelError(f"{where} failed: {type(exc).__name__}: {_reason(exc)}") from None
        if status is None:
            raise ChannelError(f"{where} unreachable: {unreachable or 'no address answered'}")
        if 200 <= status < 300:
            return
        detail = f"{where} answered HTTP {status}"
        if status in RETRIED_STATUSES or status >= 500:
            raise ChannelError(detail)
        if 300 <= status < 400:
            raise PermanentChannelError(f"{where} answered a redirect (HTTP {status}), not followed")
        raise PermanentChannelError(detail)
