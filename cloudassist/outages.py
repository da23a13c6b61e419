"""Outages of MongoDB: 503 with ``Retry-After``, never a 500.

pymongo gives up on an unreachable server after MONGODB_TIMEOUT_MS (server selection). The API's
exception handler (cloudassist/api/errors.py) answers its JSON error shape with 503; for every other
page (the admin, the portal, plain Django views) the middleware here does the same, also under
DEBUG, and so does ``handler500`` for what fails outside a view. Nothing here touches the database.
"""

from __future__ import annotations

import html
import logging

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin

from cloudassist.db import describe, is_unavailable
from cloudassist.exceptions import Unavailable
from cloudassist.internals import django as django_internals

logger = logging.getLogger(__name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Service unavailable</title></head>
<body><h1>Service unavailable</h1><p>{message}</p></body></html>
"""
HTML_PREFIXES = ("/admin/", "/portal/", "/login/", "/logout/", "/password/", "/api-auth/")


def retry_after() -> dict[str, str]:
    return {"Retry-After": str(settings.RETRY_AFTER_SECONDS)}


def wants_html(request) -> bool:
    return request.path == "/" or request.path.startswith(HTML_PREFIXES)


def unavailable_response(request) -> HttpResponse:
    """The 503: a plain page for the admin and the portal, the API's JSON error shape elsewhere."""
    message = Unavailable.default_message
    if wants_html(request):
        page = PAGE.format(message=html.escape(message))
        return HttpResponse(page, status=503, content_type="text/html; charset=utf-8", headers=retry_after())
    body = {"error": message, "code": Unavailable.default_code, "status": 503}
    return JsonResponse(body, status=503, headers=retry_after())


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """A view that failed because MongoDB is unreachable answers 503 (the API's views answer it
    themselves, through DRF's exception handler)."""

    def process_exception(self, request, exception):
        if not is_unavailable(exception):
            return None
        forget_database_state(request)  # first: even the log line asks for the user (cloudassist/logs.py)
        logger.warning("MongoDB unreachable (%s %s): %s", request.method, request.path, describe(exception))
        return unavailable_response(request)


def forget_database_state(request) -> None:
    """What the middlewares still read on the way out must not go back to the database: a session
    that could not be loaded would be loaded again (and saved) by SessionMiddleware, the user again
    by anything that asks. Each attempt would wait for MongoDB's timeout, and then answer a 500."""
    session = getattr(request, "session", None)
    if session is not None:
        django_internals.mark_session_loaded_empty(session)  # as loaded, empty, unmodified: nothing to save
    request.user = AnonymousUser()
