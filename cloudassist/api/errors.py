"""One JSON error shape for every 4xx and 5xx answer.

    {"error": "<message naming the field>", "code": "<code>", "status": 400,
     "fields": {"parameters.region": ["'mars' is not one of ['eu-west-1', ...]"]},
     "messages": {"parameters.region": "Region must be one of: eu-west-1, ..."}}

``fields`` and ``messages`` are present for validation errors only; nested errors use dotted
paths. ``fields`` holds what the validator said (for programs, unchanged since issue 17);
``messages`` one sentence in words per field (for people: a JSON Schema error names the
parameter by its title and says what is allowed, never a regex).
"""

from __future__ import annotations

import logging
import sys
from inspect import iscoroutinefunction

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError
from django.http import Http404, JsonResponse
from django.utils.decorators import sync_and_async_middleware
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from cloudassist import exceptions as app_errors
from cloudassist import outages
from cloudassist.db import describe, is_unavailable

logger = logging.getLogger(__name__)

NOT_FOUND = "Not found"


# The HTTP status of each kind of domain error (cloudassist/exceptions.py); the first match in
# the error's class hierarchy wins.
STATUS_OF = {
    app_errors.Conflict: status.HTTP_409_CONFLICT,
    app_errors.NotFound: status.HTTP_404_NOT_FOUND,
    app_errors.PreconditionFailed: status.HTTP_412_PRECONDITION_FAILED,
    app_errors.TooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    app_errors.SchemaViolation: status.HTTP_422_UNPROCESSABLE_ENTITY,
    app_errors.Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def status_of(exc: app_errors.ApplicationError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return status.HTTP_400_BAD_REQUEST


def error_body(
    message: str, *, code: str, status_code: int, fields: dict | None = None, messages: dict | None = None
) -> dict:
    body = {"error": message, "code": code, "status": status_code}
    if fields:
        body["fields"] = fields
        body["messages"] = messages or {path: " ".join(texts) for path, texts in fields.items()}
    return body


def flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into ``{"a.b.0.c": ["message", ...]}``."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten(value, path))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            if item:
                out.update(flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def _validation_message(messages: dict[str, str]) -> str:
    named = [name for name in messages if name != "non_field_errors"]
    if not named:
        return messages.get("non_field_errors") or "Invalid input."
    first = named[0]
    message = f"Invalid input in '{first}': {messages[first]}"
    if len(named) > 1:
        message += f" (and {len(named) - 1} more: {', '.join(named[1:])})"
    return message


def _integrity_message(exc: IntegrityError) -> str:
    cause = exc.__cause__ or exc
    details = getattr(cause, "details", None) or {}
    key = details.get("keyValue")
    if key:
        names = ", ".join(f"{name}={value!r}" for name, value in key.items())
        return f"An object with {names} already exists."
    return "The change conflicts with an existing object."


def _protected_message(exc: ProtectedError) -> str:
    referrers = {str(obj._meta.verbose_name_plural) for obj in exc.protected_objects}
    return f"It cannot be deleted: {', '.join(sorted(referrers)) or 'other objects'} refer to it."


def _first_code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    while isinstance(codes, (dict, list)):
        if not codes:
            return "invalid"
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return str(codes)


def _too_large(exc) -> app_errors.TooLarge:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return app_errors.TooLarge(f"The request body is larger than the {limit} bytes accepted.", code="too_large")


def _from_django_validation(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A Django ValidationError as DRF's. An error that carries a ``validator_message`` (a JSON
    Schema error, templates/rendering.py) answers it in ``fields`` as before, and its words in
    ``messages``."""
    if not hasattr(exc, "error_dict"):
        return exceptions.ValidationError(exc.messages)
    fields: dict[str, list[str]] = {}
    words: dict[str, list[str]] = {}
    for path, errors in exc.error_dict.items():
        for error in errors:
            message = " ".join(error)  # a single error iterates as its one (formatted) message
            fields.setdefault(path, []).append(getattr(error, "validator_message", message))
            words.setdefault(path, []).append(message)
    translated = exceptions.ValidationError(fields)
    translated.field_messages = {path: " ".join(texts) for path, texts in words.items()}
    return translated


# Django's own exceptions, as the API's (DRF's or the domain's).
TRANSLATIONS = (
    (Http404, lambda exc: exceptions.NotFound(NOT_FOUND)),
    (PermissionDenied, lambda exc: exceptions.PermissionDenied(str(exc) or None)),
    (DjangoValidationError, _from_django_validation),
    (ProtectedError, lambda exc: app_errors.Conflict(_protected_message(exc), code="protected")),
    (IntegrityError, lambda exc: app_errors.Conflict(_integrity_message(exc), code="already_exists")),
    (RequestDataTooBig, _too_large),
)


def _translated(exc: Exception) -> Exception:
    if is_unavailable(exc):  # MongoDB unreachable (ServerSelectionTimeoutError, however wrapped)
        return app_errors.Unavailable()
    for kind, translate in TRANSLATIONS:
        if isinstance(exc, kind):
            return translate(exc)
    return exc


def exception_handler(exc, context):
    """DRF exception handler producing the one error shape; never lets a 500 leak a trace."""
    if is_unavailable(exc):
        request = context.get("request")
        if request is not None:  # before anything logs: the log filter asks for the session's user
            outages.forget_database_state(request)  # a DRF Request: session and user reach the HttpRequest
        logger.warning("MongoDB unreachable: %s", describe(exc))
    exc = _translated(exc)

    if isinstance(exc, app_errors.ApplicationError):
        code = status_of(exc)
        set_rollback()
        headers = outages.retry_after() if code == status.HTTP_503_SERVICE_UNAVAILABLE else None
        body = {**error_body(exc.message, code=exc.code, status_code=code), **exc.extra}
        return Response(body, status=code, headers=headers)

    if not isinstance(exc, exceptions.APIException):
        view = context.get("view")
        logger.exception("Unhandled error in %s", type(view).__name__ if view else "API view")
        set_rollback()
        return Response(
            error_body("Internal server error", code="server_error", status_code=500),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        fields = flatten(exc.detail)
        words = getattr(exc, "field_messages", None) or {path: " ".join(texts) for path, texts in fields.items()}
        body = error_body(
            _validation_message(words),
            code=_first_code(exc),
            status_code=exc.status_code,
            fields=fields,
            messages=words,
        )
    else:
        message = str(exc.detail)
        if isinstance(exc, exceptions.NotFound):
            message = NOT_FOUND if message == str(exceptions.NotFound.default_detail) else message
        body = error_body(message, code=_first_code(exc), status_code=exc.status_code)
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def _wants_html(request) -> bool:
    return request.path.startswith("/admin/")


def handler404(request, exception=None):
    """JSON 404 for everything but the admin, which keeps Django's page."""
    if _wants_html(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse(error_body(NOT_FOUND, code="not_found", status_code=404), status=404)


def handler500(request):
    # Django calls this inside its ``except`` block: the error being handled says whether it was an outage.
    if is_unavailable(sys.exc_info()[1]):
        return outages.unavailable_response(request)
    if _wants_html(request):
        return defaults.server_error(request)
    return JsonResponse(error_body("Internal server error", code="server_error", status_code=500), status=500)


def handler400(request, exception=None):
    if _wants_html(request):
        return defaults.bad_request(request, exception)
    return JsonResponse(error_body("Bad request", code="bad_request", status_code=400), status=400)


def handler403(request, exception=None):
    if _wants_html(request):
        return defaults.permission_denied(request, exception)
    return JsonResponse(error_body("Forbidden", code="permission_denied", status_code=403), status=403)


# The paths whose clients read JSON: the API and the config server (the seed's /configs paths).
JSON_PATHS = ("/api/", "/configs")


def _debug_page_for_api(request, response) -> bool:
    return (
        response.status_code == 404
        and request.path.startswith(JSON_PATHS)
        and response.get("Content-Type", "").startswith("text/html")
    )


@sync_and_async_middleware
def json_not_found_middleware(get_response):
    """With DEBUG on, Django answers a URL no route matches with its HTML debug page (handler404
    only runs with DEBUG off). API clients get the JSON 404 of the OpenAPI document in every mode."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            response = await get_response(request)
            return handler404(request) if _debug_page_for_api(request, response) else response

    else:

        def middleware(request):
            response = get_response(request)
            return handler404(request) if _debug_page_for_api(request, response) else response

    return middleware
