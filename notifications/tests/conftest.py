"""Real servers for the channel tests: an SMTP server (aiosmtpd) and an HTTP webhook receiver.

``smtp_server``: a real SMTP server on a free loopback port, with Django's email settings
pointed at it (SMTP backend, no TLS, no auth, EMAIL_TIMEOUT=5) for the test.

    smtp_server.port, .host
    smtp_server.messages        # [email.message.EmailMessage] accepted, in order
    smtp_server.envelopes       # [Envelope(mail_from, rcpt_tos)] for the same messages
    smtp_server.fail_next(n=1, code=451, text="4.3.0 Try again later", stage="DATA")
                                # the next n transactions get that reply at DATA (or at "RCPT")
    smtp_server.stop() / .start()   # down (connection refused on the same port) and back up
    smtp_server.after_accept = fn   # called (in the server's thread) once a message is accepted

``webhook_server``: an HTTP server on a free loopback port that records what it receives, with
WEBHOOK_SIGNING_SECRET set to ``.secret`` and WEBHOOK_ALLOWED_NETWORKS to 127.0.0.1/32 (webhooks
may not reach loopback otherwise) for the test.

    webhook_server.url          # http://127.0.0.1:<port>/hooks/T000/B000/<token> (Slack-shaped)
    webhook_server.base_url     # http://127.0.0.1:<port>; any path is accepted
    webhook_server.requests     # [WebhookRequest(method, path, headers, body)]; .json() parses the body
    webhook_server.respond_with(status=200, *, delay=0.0, body=b"ok", times=None)
                                # reply with this from now on (or for the next `times` requests, then 200)
    webhook_server.verify(request)  # the request's X-CloudAssist-Signature is valid for .secret

``unused_port``: a loopback port nothing listens on (connection refused).
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from notifications.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

LOOPBACK = "127.0.0.1"
WEBHOOK_SECRET = "test-webhook-signing-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


@pytest.fixture
def unused_port() -> int:
    return free_port()


# --- SMTP ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_tos: list[str]


class SMTPServer:
    def __init__(self, host: str = LOOPBACK, port: int | None = None):
        self.host = host
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self._lock = threading.Lock()
        self._failures: list[tuple[str, str]] = []  # (stage, reply) for the next transactions
        self._controller: Controller | None = None
        self.after_accept = None  # called once a message is accepted, before the client hears 250

    # aiosmtpd handler hooks (run in the server's thread)
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self._take_failure("RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self._take_failure("DATA")
        if reply:
            return reply
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self._lock:
            self.envelopes.append(Envelope(envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(message)
        if self.after_accept is not None:
            self.after_accept()
        return "250 Message accepted for delivery"

    def _take_failure(self, stage: str) -> str | None:
        with self._lock:
            if self._failures and self._failures[0][0] == stage:
                return self._failures.pop(0)[1]
        return None

    def fail_next(self, n: int = 1, code: int = 451, text: str = "4.3.0 Try again later", stage: str = "DATA"):
        """Answer the next ``n`` transactions with ``code text`` at ``stage`` ("DATA" or "RCPT")."""
        if stage not in ("DATA", "RCPT"):
            raise ValueError("stage is DATA or RCPT")
        with self._lock:
            self._failures.extend([(stage, f"{code} {text}")] * n)

    def start(self) -> None:
        if self._controller is None:
            controller = Controller(self, hostname=self.host, port=self.port, server_hostname="smtp.test")
            controller.start()
            self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server(settings):
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line at INFO
    server = SMTPServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server
    finally:
        server.stop()


# --- Webhook receiver ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    path: str
    headers: Message  # case-insensitive: headers["X-CloudAssist-Signature"]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class _Reply:
    status: int = 200
    delay: float = 0.0
    body: bytes = b"ok"
    times: int | None = None


@dataclass
class WebhookServer:
    secret: str = WEBHOOK_SECRET
    requests: list[WebhookRequest] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._reply = _Reply()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((LOOPBACK, 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.handle_error = lambda request, client_address: None  # a client that gave up: fine
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        self.url = f"{self.base_url}/hooks/T000/B000/secret-token-in-path"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="webhook-server", daemon=True
        )
        self._thread.start()

    def respond_with(self, status: int = 200, *, delay: float = 0.0, body: bytes | str = b"ok", times=None) -> None:
        """Reply with ``status`` after ``delay`` seconds from now on, or for the next ``times`` requests."""
        with self._lock:
            self._reply = _Reply(status, delay, body.encode() if isinstance(body, str) else body, times)

    def verify(self, request: WebhookRequest, secret: str | None = None) -> bool:
        return verify_signature(
            secret or self.secret,
            request.headers.get(TIMESTAMP_HEADER, ""),
            request.body,
            request.headers.get(SIGNATURE_HEADER, ""),
        )

    def _next_reply(self, request: WebhookRequest) -> _Reply:
        with self._lock:
            self.requests.append(request)
            reply = self._reply
            if reply.times is not None:
                reply.times -= 1
                if reply.times <= 0:
                    self._reply = _Reply()
            return reply

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _make_handler(receiver: WebhookServer):
    class Handler(BaseHTTPRequestHandler):
        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = receiver._next_reply(WebhookRequest(self.command, self.path, self.headers, body))
            if reply.delay and receiver._stopping.wait(reply.delay):
                return
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(reply.body)))
                if 300 <= reply.status < 400:
                    self.send_header("Location", f"{receiver.base_url}/elsewhere")
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:  # the client timed out and went away
                pass

        do_POST = do_PUT = do_GET = _handle

        def log_message(self, format, *args):  # quiet test output
            return

    return Handler


@pytest.fixture
def webhook_server(settings):
    server = WebhookServer()
    settings.WEBHOOK_SIGNING_SECRET = server.secret
    settings.WEBHOOK_ALLOWED_NETWORKS = [f"{LOOPBACK}/32"]  # webhooks may not reach loopback otherwise
    try:
        yield server
    finally:
        server.stop()
