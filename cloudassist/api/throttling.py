"""Login throttles whose counters every web process shares, keyed on the real client address.

One budget per client address (``AUTH_TOKEN_RATE``, default 30/minute) for every way of trying a
password: the token endpoint (``SharedScopedRateThrottle`` with scope ``auth-token``) and the HTML
login forms, the portal's ``/login/``, the admin's ``/admin/login/`` and the browsable API's
``/api-auth/login/`` (``LoginThrottleMiddleware``, on POST). Past it: 429 with ``Retry-After``.

The client address is ``client_address()``: the connection's own address unless
``TRUSTED_PROXY_COUNT`` (DRF's ``NUM_PROXIES`` is set from it too) says how many reverse proxies
stand in front; then the Nth address from the right of ``X-Forwarded-For``, the one the outermost
trusted proxy saw. Addresses a client adds to the left of it are ignored, so forging the header
buys nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import math

from django.conf import settings
from django.core.cache import caches
from django.http import HttpResponse
from django.utils.deprecation import MiddlewareMixin
from redis.exceptions import RedisError
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

logger = logging.getLogger(__name__)

LOGIN_SCOPE = "auth-token"
# The views that check a password from a form (URL names); the token endpoint has its own throttle.
LOGIN_VIEWS = frozenset(
    {
        "portal:login",
        "admin:login",
        "rest_framework:login",
        "portal:password-change",
        "admin:password_change",
    }
)


def client_address(request) -> str:
    """The client's address as the trusted proxies in front of us saw it (see the module docstring)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",")]
    chosen = addresses[-min(proxies, len(addresses))]
    try:
        return str(ipaddress.ip_address(chosen))
    except ValueError:  # not an address: the proxy chain is not what TRUSTED_PROXY_COUNT says
        return remote


class _SharedCacheMixin:
    @property
    def cache(self):
        return caches["shared"]

    def get_ident(self, request) -> str:
        return client_address(request)

    def allow_request(self, request, view) -> bool:
        """Fails open while Redis is unreachable: logins keep working (a warning says the limit is
        off) rather than every login answering 500 until Redis is back."""
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            logger.warning("Login throttle off: the shared cache (Redis) is unreachable (%s)", type(exc).__name__)
            return True


class SharedScopedRateThrottle(_SharedCacheMixin, ScopedRateThrottle):
    """DRF's scoped rate throttle, counting in the ``shared`` cache (Redis, REDIS_URL) rather than
    in each process's memory: with N web workers, a login limit of 30/minute is 30, not 30N. Keyed
    on ``client_address()``."""


class LoginRateThrottle(_SharedCacheMixin, SimpleRateThrottle):
    """The token endpoint's budget (same scope, same counter), for the HTML login forms."""

    scope = LOGIN_SCOPE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginThrottleMiddleware(MiddlewareMixin):
    """Throttles POSTs to the password forms (``LOGIN_VIEWS``) with ``LoginRateThrottle``."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = getattr(request, "resolver_match", None)
        if request.method != "POST" or match is None or match.view_name not in LOGIN_VIEWS:
            return None
        throttle = LoginRateThrottle()
        if throttle.allow_request(request, None):
            return None
        wait = throttle.wait()
        seconds = max(1, math.ceil(wait)) if wait is not None else 60
        response = HttpResponse(
            f"Too many login attempts from your address. Try again in {seconds} seconds.\n",
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(seconds)
        return response
