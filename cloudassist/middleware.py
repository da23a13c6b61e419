"""The project's middleware: WhiteNoise that also runs natively under ASGI, and django-csp's
Content-Security-Policy middleware with one per-path relaxation.

WhiteNoise as middleware that also runs natively under ASGI.

WhiteNoise's own middleware is synchronous only (production serves WSGI: cloudassist/serving.py).
Under ASGI (cloudassist.asgi on any ASGI server) one synchronous middleware makes Django run
everything below it, async views included, through
``async_to_sync`` in a thread that is blocked for the whole request: a long-poll watch would
hold a thread while it waits. This subclass is async-capable: under ASGI it serves static files
with an asynchronous iterator and awaits the rest of the stack; under WSGI it is WhiteNoise.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from csp import middleware as csp_middleware
from csp.constants import UNSAFE_INLINE
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.utils.cache import patch_cache_control
from django.utils.decorators import sync_and_async_middleware
from whitenoise import middleware

CHUNK_BYTES = 64 * 1024


async def _chunks(filelike):
    if filelike is None:  # HEAD, 304
        return
    read = sync_to_async(filelike.read, thread_sensitive=False)
    while chunk := await read(CHUNK_BYTES):
        yield chunk


class WhiteNoiseMiddleware(middleware.WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, **kwargs):
        super().__init__(get_response, **kwargs)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is None:
            return await self.get_response(request)
        response = await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        # An async iterator, so that Django's ASGI handler streams it without a warning; the
        # file is still closed by the response (FileResponse registered it).
        response.streaming_content = _chunks(response.file_to_stream)
        return response


class CSPMiddleware(csp_middleware.CSPMiddleware):
    """django-csp's middleware (settings.CONTENT_SECURITY_POLICY). Under the
    CSP_INLINE_SCRIPT_PATH_PREFIXES (django-rq's dashboard, whose templates carry inline scripts)
    script-src also allows 'unsafe-inline'; no nonce is used there, which would disable it."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and request.path_info.startswith(tuple(settings.CSP_INLINE_SCRIPT_PATH_PREFIXES)):
            parts.update = {**(parts.update or {}), "script-src": [UNSAFE_INLINE]}
            parts.nonce = None
        return parts


def _keep_private(request, response):
    """A page rendered for a signed-in user (portal, admin, the browsable API) is theirs alone:
    ``Cache-Control: private, no-store``, so no shared cache and no browser history keeps it after
    sign-out. JSON and files keep their own caching headers. Signed in means a session cookie here:
    asking ``request.user`` could query MongoDB after the outage middleware answered a 503 page."""
    signed_in = bool(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    if signed_in and response.get("Content-Type", "").startswith("text/html"):
        patch_cache_control(response, private=True, no_store=True)
    return response


@sync_and_async_middleware
def private_pages(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _keep_private(request, await get_response(request))

    else:

        def middleware(request):
            return _keep_private(request, get_response(request))

    return middleware


# --- what only browsers need: skipped by token-authenticated API and /configs requests ----------------

TOKEN_PATH_PREFIXES = ("/api/", "/configs")


def token_api_request(request) -> bool:
    """An API or /configs request carrying ``Authorization: Token ...``: DRF's token authentication
    answers it alone (a token header that fails is a 401, never a fallback to the session), so
    sessions, the session user and messages have nothing to do. Anything else (the admin, the
    portal, the browsable API with a session) gets them all. CSRF stays Django's middleware for
    every request (``check --deploy`` looks for it by name); DRF's views are exempt from it, and
    DRF checks CSRF itself for session-authenticated requests."""
    found = request.__dict__.get("_token_api_request")
    if found is None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        found = header[:6].lower() == "token " and request.path_info.startswith(TOKEN_PATH_PREFIXES)
        request._token_api_request = found
    return found


class _BrowserOnly:
    """A middleware that token API requests pass straight through (sync and async)."""

    def __call__(self, request):
        if token_api_request(request):
            self.skipped(request)
            return self.get_response(request)  # a coroutine under ASGI: the caller awaits it
        return super().__call__(request)

    def skipped(self, request) -> None:
        pass


class BrowserSessionMiddleware(_BrowserOnly, SessionMiddleware):
    pass


class BrowserAuthenticationMiddleware(_BrowserOnly, AuthenticationMiddleware):
    def skipped(self, request) -> None:
        request.user = AnonymousUser()  # until DRF's token authentication sets the token's user


class BrowserMessageMiddleware(_BrowserOnly, MessageMiddleware):
    pass
