"""Server-side request forgery: webhooks never reach an internal address unless an admin allows it.

The receiver (conftest's ``webhook_server``) listens on 127.0.0.1, so it doubles as the internal
service an attacker would aim at: without the allow-list nothing may reach it, whatever the URL
looks like; with WEBHOOK_ALLOWED_NETWORKS (or WEBHOOK_ALLOWED_HOSTS) it is reached.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications.channels import destinations
from notifications.channels.base import ChannelError, Message, PermanentChannelError
from notifications.channels.destinations import AddressNotAllowed, blocked_reason
from notifications.channels.webhook import WebhookChannel


def make_message(url: str) -> Message:
    return Message(
        notification_id="66f000000000000000000001",
        kind="provisioned",
        title="Ready",
        body="The cluster is ACTIVE.",
        link="",
        recipient_username="dev1",
        recipient_email="dev1@example.com",
        webhook_url=url,
    )


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("169.254.169.254", "cloud metadata"),  # AWS, GCP, Azure
        ("fd00:ec2::254", "cloud metadata"),  # AWS over IPv6
        ("169.254.10.20", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("100.127.255.254", "shared (CGNAT)"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "private"),  # documentation
        ("198.18.0.1", "private"),  # benchmarking
        ("240.0.0.1", "reserved"),
    ],
)
def test_internal_addresses_are_refused(address, kind):
    assert blocked_reason(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert blocked_reason(ipaddress.ip_address(address)) is None


def _loopback_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/hook",
        f"http://localhost:{port}/hook",  # a name that resolves to loopback
        f"http://LocalHost:{port}/hook",
        f"http://2130706433:{port}/hook",  # 127.0.0.1 as one decimal number
        f"http://0177.0.0.1:{port}/hook",  # octal
        f"http://0x7f.0.0.1:{port}/hook",  # hex
        f"http://127.1:{port}/hook",  # short form
        f"http://[::1]:{port}/hook",
        f"http://[::ffff:127.0.0.1]:{port}/hook",
        f"http://user:pass@127.0.0.1:{port}/hook",
    ]


def test_no_form_of_a_loopback_url_reaches_the_server_without_the_allow_list(webhook_server, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    for url in _loopback_urls(webhook_server.port):
        with pytest.raises(AddressNotAllowed) as failure:
            WebhookChannel().send(make_message(url))
        assert "address not allowed" in str(failure.value), url
        assert "loopback" in str(failure.value), url
        assert "/hook" not in str(failure.value)  # never the path
        assert "pass" not in str(failure.value)  # nor the user info
    assert webhook_server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://192.168.0.10:8080/hook",
        "http://172.20.1.1/hook",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.64.0.1/hook",
        "https://[fe80::1]/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0:9302/metrics",
        "http://[::]/hook",
    ],
)
def test_private_link_local_and_metadata_addresses_are_refused_before_any_connection(settings, url):
    settings.WEBHOOK_SIGNING_SECRET = "s"
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # allowing the test server allows nothing else
    with pytest.raises(AddressNotAllowed, match="address not allowed"):
        WebhookChannel().send(make_message(url))


def test_the_allow_list_lets_the_test_server_through(webhook_server, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    WebhookChannel().send(make_message(f"http://2130706433:{webhook_server.port}/hook"))
    WebhookChannel().send(make_message(f"http://[::ffff:127.0.0.1]:{webhook_server.port}/hook"))
    assert [request.path for request in webhook_server.requests] == ["/hook", "/hook"]


def test_an_allowed_host_name_is_let_through_and_sent_as_its_host_header(webhook_server, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    settings.WEBHOOK_ALLOWED_HOSTS = ["localhost"]
    # localhost may resolve to ::1 first, where nothing listens: the next checked address is tried.
    WebhookChannel().send(make_message(f"http://localhost:{webhook_server.port}/hook?x=1"))
    (received,) = webhook_server.requests
    assert received.path == "/hook?x=1"
    assert received.headers["Host"] == f"localhost:{webhook_server.port}"
    settings.WEBHOOK_ALLOWED_HOSTS = ["example.com", ".example.org"]
    with pytest.raises(AddressNotAllowed):
        WebhookChannel().send(make_message(f"http://localhost:{webhook_server.port}/hook"))


def test_the_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(
    webhook_server, settings, monkeypatch
):
    """DNS rebinding: a name that resolves to an allowed address at the check and to an internal
    one a moment later. The connection goes to the address that was checked."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding_getaddrinfo(host, port, *args, **kwargs):
        if host == "hooks.rebind.test":
            lookups.append(host)
            address = "127.0.0.1" if len(lookups) == 1 else "10.9.9.9"  # the second answer is internal
            return real_getaddrinfo(address, port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    WebhookChannel().send(make_message(f"http://hooks.rebind.test:{webhook_server.port}/hook"))
    assert lookups == ["hooks.rebind.test"]  # once: the connection did not look the name up again
    (received,) = webhook_server.requests
    assert received.headers["Host"] == f"hooks.rebind.test:{webhook_server.port}"


def test_every_resolved_address_is_checked(settings, monkeypatch):
    """A name with one public and one internal address is refused (the client could pick either)."""
    settings.WEBHOOK_SIGNING_SECRET = "s"
    real_getaddrinfo = socket.getaddrinfo

    def two_addresses(host, port, *args, **kwargs):
        if host == "mixed.test":
            return real_getaddrinfo("93.184.216.34", port, *args, **kwargs) + real_getaddrinfo(
                "10.0.0.5", port, *args, **kwargs
            )
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    with pytest.raises(
        AddressNotAllowed, match=r"not allowed for webhooks: http://mixed\.test resolves to a private address"
    ):
        WebhookChannel().send(make_message("http://mixed.test/hook"))


def test_a_redirect_to_an_internal_address_is_not_followed(webhook_server):
    webhook_server.respond_with(302)  # Location: <base_url>/elsewhere
    with pytest.raises(PermanentChannelError, match=r"redirect \(HTTP 302\), not followed"):
        WebhookChannel().send(make_message(webhook_server.url))
    assert len(webhook_server.requests) == 1


def test_a_name_that_does_not_resolve_is_retried_later(settings):
    settings.WEBHOOK_SIGNING_SECRET = "s"
    with pytest.raises(ChannelError, match="could not be resolved") as failure:
        WebhookChannel().send(make_message("https://no-such-host.invalid/hook"))
    assert not isinstance(failure.value, PermanentChannelError)


def test_a_bad_allow_list_entry_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.WEBHOOK_ALLOWED_NETWORKS = ["not-a-network"]
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_ALLOWED_NETWORKS"):
        destinations.resolve("http://127.0.0.1/hook")


# --- HTTPS: connected by address, verified by name --------------------------------------------------


def _certificate(tmp_path, name: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_server(tmp_path, settings, monkeypatch):
    """An HTTPS receiver on 127.0.0.1 with a certificate for ``localhost`` that the client trusts
    (SSL_CERT_FILE); it records the SNI name each connection asked for."""
    cert, key = _certificate(tmp_path, "localhost")
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    settings.WEBHOOK_SIGNING_SECRET = "s"
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]  # wherever localhost resolves
    server_names: list[str | None] = []
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            paths.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format, *args):
            return

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.handle_error = lambda request, client_address: None
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.server_names, httpd.paths = server_names, paths
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_https_connects_to_the_checked_address_with_the_url_host_as_sni_and_certificate_name(tls_server):
    port = tls_server.server_address[1]
    WebhookChannel().send(make_message(f"https://localhost:{port}/hook"))
    assert tls_server.paths == ["/hook"]
    assert "localhost" in tls_server.server_names


def test_https_to_a_host_the_certificate_does_not_name_fails(tls_server):
    port = tls_server.server_address[1]
    with pytest.raises(ChannelError, match="TLS error") as failure:  # the certificate says localhost
        WebhookChannel().send(make_message(f"https://127.0.0.1:{port}/hook"))
    assert not isinstance(failure.value, PermanentChannelError)
    assert tls_server.paths == []
