"""Query strings checked once, at the edge: a NUL in a parameter is a 400 naming it.

Django decodes query strings leniently (bad UTF-8 becomes U+FFFD), but keeps ``%00``: passed on,
it reaches MongoDB in a filter or a regular expression (``?prefix=a%00``), which refuses it with a
server error. No parameter of ours can mean anything with a NUL in it, so every path refuses it
before a view (or the admin) runs.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.decorators import sync_and_async_middleware

from cloudassist.api.errors import error_body
from cloudassist.content import NUL, shown


def refusal(request):
    """The 400 for a request whose query string holds a NUL, or None."""
    if not request.META.get("QUERY_STRING"):
        return None
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            message = f"Invalid query parameter '{shown(name)}': it {NUL}"
            if request.path.startswith("/admin/"):
                return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
            body = error_body(message, code="invalid", status_code=400, fields={shown(name): [f"It {NUL}"]})
            return JsonResponse(body, status=400)
    return None


@sync_and_async_middleware
def refuse_nul_in_query(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return refusal(request) or await get_response(request)

    else:

        def middleware(request):
            return refusal(request) or get_response(request)

    return middleware
