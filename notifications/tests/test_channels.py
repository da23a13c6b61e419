"""The email and webhook channels against real servers (aiosmtpd, http.server): no network mocks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notifications import channels
from notifications.channels.base import ChannelError, Message, PermanentChannelError
from notifications.channels.email import EmailChannel
from notifications.channels.in_app import InAppChannel
from notifications.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookChannel, sign, verify_signature

BASE_DIR = Path(__file__).resolve().parents[2]


def make_message(**overrides) -> Message:
    fields = {
        "notification_id": "66f000000000000000000001",
        "kind": "provisioned",
        "title": "Your environment team-a-dev is ready",
        "body": "The cluster is ACTIVE.\nDownload the kubeconfig from the request page.",
        "link": "https://cloudassist.example.com/requests/66f0",
        "recipient_username": "dev1",
        "recipient_email": "dev1@example.com",
        "webhook_url": "",
    }
    fields.update(overrides)
    return Message(**fields)


def parts_of(message) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}


def test_registry_returns_each_channel():
    assert isinstance(channels.get("email"), EmailChannel)
    assert isinstance(channels.get("webhook"), WebhookChannel)
    assert isinstance(channels.get("in_app"), InAppChannel)


# --- email -----------------------------------------------------------------------------------------


def test_email_reaches_the_smtp_server_with_text_and_html_parts(smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "CloudAssist <noreply@cloudassist.example.com>"
    message = make_message(body="Look: <script>alert('x')</script> & more\nsecond line")

    EmailChannel().send(message)

    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert smtp_server.envelopes[0].rcpt_tos == ["dev1@example.com"]
    assert smtp_server.envelopes[0].mail_from == "noreply@cloudassist.example.com"
    assert received["To"] == "dev1@example.com"
    assert received["From"] == "CloudAssist <noreply@cloudassist.example.com>"
    assert received["Subject"] == "[CloudAssist] Your environment team-a-dev is ready"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received["X-CloudAssist-Kind"] == "provisioned"
    assert received["X-CloudAssist-Notification"] == message.notification_id
    assert received.get_content_type() == "multipart/alternative"
    parts = parts_of(received)
    assert set(parts) == {"text/plain", "text/html"}
    text, html = parts["text/plain"], parts["text/html"]
    assert "Look: <script>alert('x')</script> & more" in text  # plain text stays as written
    assert "https://cloudassist.example.com/requests/66f0" in text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more<br>second line" in html
    assert 'href="https://cloudassist.example.com/requests/66f0"' in html


def test_email_subject_is_one_line_and_a_relative_link_becomes_absolute(smtp_server, settings):
    settings.SITE_URL = "https://cloudassist.example.com/"
    EmailChannel().send(make_message(title="Approved\r\nBcc: victim@example.com", link="/requests/42"))

    received = smtp_server.messages[0]
    assert received["Subject"] == "[CloudAssist] Approved Bcc: victim@example.com"
    assert received["Bcc"] is None
    assert smtp_server.envelopes[0].rcpt_tos == ["dev1@example.com"]
    assert "https://cloudassist.example.com/requests/42" in parts_of(received)["text/plain"]


def test_email_without_an_address_is_permanent(smtp_server):
    with pytest.raises(PermanentChannelError, match="dev1 has no email address"):
        EmailChannel().send(make_message(recipient_email=""))
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("code", "text"), [(451, "4.3.0 Try again later"), (421, "4.3.2 Service shutting down, try later")]
)
def test_a_temporary_smtp_failure_is_retried_and_the_retry_delivers(smtp_server, code, text):
    smtp_server.fail_next(1, code=code, text=text)
    channel = EmailChannel()

    with pytest.raises(ChannelError, match=str(code)) as failure:
        channel.send(make_message())
    assert not isinstance(failure.value, PermanentChannelError)
    assert smtp_server.messages == []

    channel.send(make_message())  # the retry
    assert len(smtp_server.messages) == 1
    assert smtp_server.envelopes[0].rcpt_tos == ["dev1@example.com"]


def test_a_deferred_recipient_is_temporary(smtp_server):
    smtp_server.fail_next(1, code=450, text="4.2.1 Mailbox busy", stage="RCPT")
    with pytest.raises(ChannelError, match="deferred the recipient: 450") as failure:
        EmailChannel().send(make_message())
    assert not isinstance(failure.value, PermanentChannelError)


@pytest.mark.parametrize(
    ("stage", "code", "text", "expected"),
    [
        ("RCPT", 550, "5.1.1 No such user", "refused the recipient: 550 5.1.1 No such user"),
        ("DATA", 554, "5.7.1 Message rejected as spam", "rejected the message: 554 5.7.1"),
    ],
)
def test_a_5xx_reply_is_permanent(smtp_server, stage, code, text, expected):
    smtp_server.fail_next(1, code=code, text=text, stage=stage)
    with pytest.raises(PermanentChannelError, match=expected):
        EmailChannel().send(make_message())
    assert smtp_server.messages == []


def test_smtp_server_down_is_temporary_and_the_delivery_succeeds_once_it_is_back(smtp_server):
    smtp_server.stop()
    channel = EmailChannel()
    with pytest.raises(ChannelError, match="unreachable") as failure:
        channel.send(make_message())
    assert not isinstance(failure.value, PermanentChannelError)

    smtp_server.start()  # same port
    channel.send(make_message())
    assert [m["To"] for m in smtp_server.messages] == ["dev1@example.com"]


def test_an_smtp_server_that_never_answers_times_out(smtp_server, settings):
    settings.EMAIL_TIMEOUT = 1
    with socket.socket() as silent:  # accepts connections (backlog) but never says hello
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        settings.EMAIL_PORT = silent.getsockname()[1]
        with pytest.raises(ChannelError) as failure:  # without the timeout this would hang, not raise
            EmailChannel().send(make_message())
    assert not isinstance(failure.value, PermanentChannelError)


def test_console_backend_prints_the_email(settings, capsys):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    EmailChannel().send(make_message())
    out = capsys.readouterr().out
    assert "Subject: [CloudAssist] Your environment team-a-dev is ready" in out
    assert "text/html" in out


# --- webhook ---------------------------------------------------------------------------------------


def test_webhook_posts_slack_compatible_json_with_a_valid_signature(webhook_server):
    message = make_message(webhook_url=webhook_server.url, title="Ready <!channel>", body="a & b > c")

    WebhookChannel().send(message)

    assert len(webhook_server.requests) == 1
    request = webhook_server.requests[0]
    assert request.method == "POST"
    assert request.path == "/hooks/T000/B000/secret-token-in-path"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["User-Agent"].startswith("CloudAssist")
    assert request.headers["X-CloudAssist-Notification"] == message.notification_id  # receivers deduplicate on it
    payload = request.json()
    # Slack's control characters in user content are escaped: no @channel pings, no fake links.
    assert (
        payload["text"] == "*Ready &lt;!channel&gt;*\na &amp; b &gt; c\n<https://cloudassist.example.com/requests/66f0>"
    )
    assert payload["cloudassist"] == {
        "kind": "provisioned",
        "notification_id": message.notification_id,
        "link": "https://cloudassist.example.com/requests/66f0",
    }
    assert payload["blocks"][0]["text"]["type"] == "mrkdwn"
    assert payload["blocks"][1]["elements"][0]["url"] == "https://cloudassist.example.com/requests/66f0"

    timestamp, signature = request.headers[TIMESTAMP_HEADER], request.headers[SIGNATURE_HEADER]
    assert abs(int(timestamp) - time.time()) < 60
    assert signature == sign(webhook_server.secret, timestamp, request.body)
    assert verify_signature(webhook_server.secret, timestamp, request.body, signature)
    assert webhook_server.verify(request)
    assert not verify_signature("another-secret", timestamp, request.body, signature)
    assert not verify_signature(webhook_server.secret, timestamp, request.body + b" ", signature)
    assert not verify_signature(webhook_server.secret, int(timestamp) + 1, request.body, signature)
    # A replay outside the tolerance window fails even with the right signature.
    assert not verify_signature(webhook_server.secret, timestamp, request.body, signature, now=int(timestamp) + 301)
    assert verify_signature(webhook_server.secret, timestamp, request.body, signature, now=int(timestamp) + 299)


def test_webhook_without_a_link_has_no_button(webhook_server):
    WebhookChannel().send(make_message(webhook_url=webhook_server.url, link=""))
    payload = webhook_server.requests[0].json()
    assert payload["text"].endswith("request page.")
    assert [block["type"] for block in payload["blocks"]] == ["section"]


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_webhook_server_errors_are_temporary(webhook_server, status):
    webhook_server.respond_with(status, body="x" * 1000)
    with pytest.raises(ChannelError, match=f"HTTP {status}") as failure:
        WebhookChannel().send(make_message(webhook_url=webhook_server.url))
    assert not isinstance(failure.value, PermanentChannelError)
    error = str(failure.value)
    assert error == f"{webhook_server.base_url} answered HTTP {status}"
    assert "x" not in error.removeprefix("http://")  # nothing of the response's body
    assert "secret-token-in-path" not in error  # never the URL's path (Slack URLs carry a token)


def test_a_temporary_webhook_failure_is_delivered_on_retry(webhook_server):
    webhook_server.respond_with(503, times=1)
    channel = WebhookChannel()
    message = make_message(webhook_url=webhook_server.url)
    with pytest.raises(ChannelError):
        channel.send(message)
    channel.send(message)  # the retry: a new request, signed again
    assert len(webhook_server.requests) == 2
    assert all(webhook_server.verify(request) for request in webhook_server.requests)


@pytest.mark.parametrize("status", [404, 400, 403])
def test_webhook_client_errors_are_permanent(webhook_server, status):
    webhook_server.respond_with(status, body="no_service")
    with pytest.raises(PermanentChannelError) as failure:
        WebhookChannel().send(make_message(webhook_url=webhook_server.url))
    assert str(failure.value) == f"{webhook_server.base_url} answered HTTP {status}"  # not the body


def test_webhook_redirects_are_not_followed(webhook_server):
    webhook_server.respond_with(302)
    with pytest.raises(PermanentChannelError, match="redirect"):
        WebhookChannel().send(make_message(webhook_url=webhook_server.url))
    assert [request.path for request in webhook_server.requests] == ["/hooks/T000/B000/secret-token-in-path"]


def test_a_slow_webhook_server_times_out(webhook_server, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    webhook_server.respond_with(200, delay=3)
    with pytest.raises(ChannelError, match=r"did not answer within 0\.3 s") as failure:  # else: 200 after 3 s
        WebhookChannel().send(make_message(webhook_url=webhook_server.url))
    assert not isinstance(failure.value, PermanentChannelError)


def test_an_unreachable_webhook_is_temporary(settings, unused_port):
    settings.WEBHOOK_SIGNING_SECRET = "s"
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    with pytest.raises(ChannelError, match="unreachable") as failure:
        WebhookChannel().send(make_message(webhook_url=f"http://127.0.0.1:{unused_port}/hook"))
    assert not isinstance(failure.value, PermanentChannelError)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/hook", "file:///etc/passwd", "javascript:alert(1)", "http:///no-host", "http://h:99999/x"],
)
def test_webhook_urls_other_than_http_are_permanent(settings, url):
    settings.WEBHOOK_SIGNING_SECRET = "s"
    with pytest.raises(PermanentChannelError):
        WebhookChannel().send(make_message(webhook_url=url))


def test_webhook_without_a_url_is_permanent(settings):
    settings.WEBHOOK_SIGNING_SECRET = "s"
    with pytest.raises(PermanentChannelError, match="dev1 has no webhook URL"):
        WebhookChannel().send(make_message(webhook_url=""))


def test_webhook_is_never_sent_unsigned(webhook_server, settings):
    settings.WEBHOOK_SIGNING_SECRET = ""
    with pytest.raises(PermanentChannelError, match="WEBHOOK_SIGNING_SECRET is not set"):
        WebhookChannel().send(make_message(webhook_url=webhook_server.url))
    assert webhook_server.requests == []


# --- settings --------------------------------------------------------------------------------------

_SETTINGS_SCRIPT = (
    "from django.conf import settings as s; "
    "print(s.EMAIL_BACKEND.rsplit('.', 2)[1], s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER or '-', "
    "s.EMAIL_HOST_PASSWORD or '-', s.EMAIL_USE_TLS, s.EMAIL_USE_SSL, bool(s.WEBHOOK_SIGNING_SECRET))"
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEBUG": "true"}, "console localhost 25 - - False False True"),
        ({"DEBUG": "false"}, "smtp localhost 25 - - False False False"),
        ({"DEBUG": "false", "WEBHOOK_SIGNING_SECRET": "w"}, "smtp localhost 25 - - False False True"),
        (
            {"DEBUG": "false", "EMAIL_URL": "smtp+tls://bot%40example.com:p%2Fss@mail.example.com:587"},
            "smtp mail.example.com 587 bot@example.com p/ss True False False",
        ),
        ({"EMAIL_URL": "smtp://u:p@mail.example.com:587/?tls=true"}, "smtp mail.example.com 587 u p True False False"),
        ({"EMAIL_URL": "smtp+ssl://u:p@mail.example.com:465"}, "smtp mail.example.com 465 u p False True False"),
    ],
)
def test_email_and_webhook_settings_from_the_environment(env, expected, tmp_path):
    drop = ("DEBUG", "EMAIL_URL", "WEBHOOK_SIGNING_SECRET")
    base = {key: value for key, value in os.environ.items() if key not in drop}
    base.update(DJANGO_SETTINGS_MODULE="cloudassist.settings", CLOUDASSIST_ENV_FILE=str(tmp_path / "none.env"))
    result = subprocess.run(
        [sys.executable, "-c", _SETTINGS_SCRIPT],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
