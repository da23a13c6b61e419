"""The project's domain errors: what services, selectors, providers, jobs and the admin raise.

They say what went wrong and carry a stable ``code`` plus any ``extra`` fields a client can act
on (``current_status``, a quota breakdown, the current version); they know nothing of HTTP. The
API's exception handler (cloudassist/api/errors.py) maps each kind to its status code and the one
JSON error shape; the admin shows them as messages (cloudassist/admin.py, ``refusal``). Django's own
``PermissionDenied`` and ``ValidationError`` keep their meaning (403, 400 naming the fields).
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A refusal the caller can understand: ``message``, ``code``, ``extra`` fields for the body."""

    default_message = "The request cannot be carried out."
    default_code = "error"

    def __init__(self, message: str | None = None, *, code: str | None = None, **extra: Any):
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.extra: dict[str, Any] = extra
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class Conflict(ApplicationError):
    """The change conflicts with the current state of the object (409)."""

    default_message = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class InvalidTransition(Conflict):
    """A state change that is not allowed from the subject's current status (409, naming it)."""

    default_code = "invalid_transition"

    def __init__(self, message: str, *, current_status: str):
        super().__init__(message, current_status=current_status)
        self.current_status = current_status


class QuotaExceeded(Conflict):
    """The request does not fit its requester's quota (409, with the breakdown per dimension)."""

    default_code = "quota_exceeded"


class NotFound(ApplicationError):
    """Nothing by that name or id that the caller may see (404)."""

    default_message = "Not found"
    default_code = "not_found"


class PreconditionFailed(ApplicationError):
    """A conditional write whose condition no longer holds (412, e.g. If-Match)."""

    default_code = "precondition_failed"


class TooLarge(ApplicationError):
    """The payload is larger than allowed (413)."""

    default_code = "too_large"


class SchemaViolation(ApplicationError):
    """The data does not match its JSON Schema (422, listing every failing path)."""

    default_code = "schema_violation"


class Unavailable(ApplicationError):
    """A server this depends on (MongoDB) cannot be reached now (503, with ``Retry-After``)."""

    default_message = "The service is temporarily unavailable: its database cannot be reached. Try again shortly."
    default_code = "unavailable"
