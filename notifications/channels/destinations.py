"""Where a webhook may go: never to an internal address unless an admin allows it.

A webhook URL is the user's to choose, so without a check it is a server-side request forgery:
``http://127.0.0.1:9302/metrics``, the cloud's metadata service (169.254.169.254,
fd00:ec2::254), a database on the private network. The rule:

- the host is resolved once (``getaddrinfo``: a name, an IPv4/IPv6 literal, and the forms the C
  library also accepts such as ``2130706433``, ``0177.0.0.1`` or ``127.1``), every address it
  resolves to is checked, and the request then connects to a checked address (never resolving the
  name again: no DNS rebinding between the check and the connection);
- an address is refused when it is not globally routable (loopback, private, link-local, shared
  CGNAT 100.64/10, unique-local, unspecified, reserved, documentation, benchmarking), multicast,
  or a cloud metadata address; IPv4 inside IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64, Teredo) is
  judged by the IPv4 address it carries;
- ``WEBHOOK_ALLOWED_NETWORKS`` (CIDRs) lets addresses inside them through, and
  ``WEBHOOK_ALLOWED_HOSTS`` (host names, ``.example.com`` for a domain and its subdomains) lets a
  host through whatever it resolves to. Both are empty by default.

``resolve()`` is what the channel calls at send time; ``validate_url()`` is the same check when a
URL is saved (a clear 400 early; a name that does not resolve yet is left to the send-time check).
Messages never name the address a host name resolved to (that would map the internal network for
whoever can set a URL), only which kind of address it was.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from notifications.channels.base import ChannelError, PermanentChannelError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Not covered by "not global" (fd00:ec2::254 is unique-local, 169.254.169.254 link-local), but named
# so that the message says what it is.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)


class AddressNotAllowed(PermanentChannelError):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


@dataclass(frozen=True)
class Destination:
    """A checked webhook URL: connect to one of ``addresses``, send ``host_header`` as Host (and
    ``hostname`` as TLS SNI and the name the certificate must carry)."""

    scheme: str
    hostname: str
    port: int
    host_header: str
    target: str  # path and query, as given
    addresses: tuple[str, ...]

    @property
    def where(self) -> str:
        """``scheme://host[:port]``: for messages; never the path or query (Slack URLs carry a token)."""
        return f"{self.scheme}://{self.host_header}"


@dataclass(frozen=True)
class _Parsed:
    scheme: str
    hostname: str
    port: int
    host_header: str
    target: str


def _parse(url: str) -> _Parsed:
    try:
        parts = urlsplit((url or "").strip())
        hostname, port = parts.hostname, parts.port  # .port raises ValueError for a bad port
    except ValueError:
        raise PermanentChannelError("the webhook URL is malformed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not hostname:
        raise PermanentChannelError(f"the webhook URL must be http(s) with a host, not '{parts.scheme}:...'")
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return _Parsed(
        scheme=scheme,
        hostname=hostname,
        port=port or (443 if scheme == "https" else 80),
        host_header=parts.netloc.rpartition("@")[2],  # no user info
        target=target,
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
# The first that matches names the kind of address (the order matters: metadata is link-local too).
_KINDS = (
    ("cloud metadata", lambda ip: ip in METADATA_ADDRESSES),
    ("loopback", lambda ip: ip.is_loopback),
    ("unspecified", lambda ip: ip.is_unspecified),
    ("link-local", lambda ip: ip.is_link_local),
    ("multicast", lambda ip: ip.is_multicast),
    ("shared (CGNAT)", lambda ip: ip.version == 4 and ip in _CGNAT),
    ("unique-local", lambda ip: ip.version == 6 and ip in _UNIQUE_LOCAL),
    ("reserved", lambda ip: ip.is_reserved),
    ("private", lambda ip: ip.is_private),
    ("non-public", lambda ip: not ip.is_global),
)


def blocked_reason(address: IPAddress) -> str | None:
    """Why webhooks may not reach ``address`` ("loopback", "private", ...), or None when they may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return blocked_reason(embedded)
    return next((kind for kind, matches in _KINDS if matches(address)), None)


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", ()) or ():
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"WEBHOOK_ALLOWED_NETWORKS: {entry!r} is not an IP network") from None
    return networks


def _host_allowed(hostname: str) -> bool:
    name = hostname.lower().rstrip(".")
    for entry in getattr(settings, "WEBHOOK_ALLOWED_HOSTS", ()) or ():
        pattern = str(entry).strip().lower().rstrip(".")
        if not pattern:
            continue
        if pattern.startswith("."):
            if name == pattern[1:] or name.endswith(pattern):
                return True
        elif name == pattern:
            return True
    return False


def address_refusal(address: str) -> str | None:
    """Why ``address`` (an IP as text) may not be reached under the current settings, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is not part of the address
    if any(ip in network for network in _allowed_networks()):
        return None
    embedded = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    if embedded is not None and any(embedded in network for network in _allowed_networks()):
        return None
    return blocked_reason(ip)


def _resolve_addresses(hostname: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _refusal_message(parsed: _Parsed, reason: str) -> str:
    what = "is" if _is_literal(parsed.hostname) else "resolves to"
    return f"address not allowed for webhooks: {parsed.scheme}://{parsed.host_header} {what} a {reason} address"


def _is_literal(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def _check(parsed: _Parsed, addresses: list[str]) -> None:
    if _host_allowed(parsed.hostname):
        return
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise AddressNotAllowed(_refusal_message(parsed, reason))


def resolve(url: str) -> Destination:
    """Parse, resolve once and check ``url``; raise PermanentChannelError (bad URL),
    AddressNotAllowed, or ChannelError (the name does not resolve now: retried)."""
    parsed = _parse(url)
    try:
        addresses = _resolve_addresses(parsed.hostname, parsed.port)
    except (OSError, UnicodeError) as exc:
        raise ChannelError(f"{parsed.scheme}://{parsed.host_header} could not be resolved: {_dns_error(exc)}") from None
    if not addresses:
        raise ChannelError(f"{parsed.scheme}://{parsed.host_header} could not be resolved")
    _check(parsed, addresses)
    return Destination(
        scheme=parsed.scheme,
        hostname=parsed.hostname,
        port=parsed.port,
        host_header=parsed.host_header,
        target=parsed.target,
        addresses=tuple(addresses),
    )


def _dns_error(exc: Exception) -> str:
    if isinstance(exc, socket.gaierror):
        return exc.strerror or "name resolution failed"
    return type(exc).__name__


SAVE_RESOLVE_SECONDS = 1.0  # a save never waits longer on a slow DNS server: the send checks again


def validate_url(url: str) -> None:
    """The send-time check when a URL is saved: raise PermanentChannelError / AddressNotAllowed for
    a URL that can never be delivered to. A host that does not resolve now (or not within
    SAVE_RESOLVE_SECONDS) passes: it is checked again at every send."""
    if not (url or "").strip():
        return
    parsed = _parse(url)
    if _is_literal(parsed.hostname):
        _check(parsed, [parsed.hostname])
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-resolve")
    try:
        addresses = pool.submit(_resolve_addresses, parsed.hostname, parsed.port).result(SAVE_RESOLVE_SECONDS)
    except (OSError, UnicodeError, FuturesTimeout):
        return
    finally:
        pool.shutdown(wait=False)
    _check(parsed, addresses)
