"""Structured logs: JSON lines with timestamp, level, logger, request id and user id.

A request id comes from the caller's `X-Request-ID` (when it looks like one) or is made up,
is echoed in the response, and travels with every job the request enqueues (rq job meta),
so one id follows an approval from the API through provisioning. When tracing is on
(cloudassist/tracing.py), the job meta carries the trace context too, jobs run in spans that
continue the request's trace, and JSON lines carry trace_id and span_id. `LOG_FORMAT=json` (the
default unless DEBUG) or `human`. Log records never carry request bodies or headers.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from cloudassist import tracing

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
current_request: contextvars.ContextVar[Any] = contextvars.ContextVar("current_request", default=None)
job_user_id: contextvars.ContextVar[str] = contextvars.ContextVar("job_user_id", default="")

HEADER = "X-Request-ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
_CONTEXT = {"message", "asctime", "request_id", "user_id", "request", "trace_id", "span_id"}
_STANDARD = set(vars(logging.makeLogRecord({}))) | _CONTEXT
_SECRET_KEYS = re.compile(r"(pass(word)?|secret|token|authorization|kubeconfig|credential|private_key)", re.I)


def new_request_id() -> str:
    return uuid.uuid4().hex


def _user_id(request=None) -> str:
    request = request if request is not None else current_request.get()
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.pk)
    return job_user_id.get()


class ContextFilter(logging.Filter):
    """Adds request_id and user_id to every record (also to Django's own `django.request`
    lines, which are logged after the middleware has finished, from the request they carry)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or request_id.get()
        record.user_id = _user_id(request)
        ids = tracing.current_ids()  # None unless tracing is on and a span is recording
        if ids is not None:
            record.trace_id, record.span_id = ids
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or None,
            "user_id": getattr(record, "user_id", "") or None,
        }
        if getattr(record, "trace_id", None):
            body["trace_id"], body["span_id"] = record.trace_id, getattr(record, "span_id", None)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                body[key] = "[redacted]" if _SECRET_KEYS.search(key) else value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


class HumanFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = (getattr(record, "request_id", "") or "-")[:12]
        return super().format(record)


class RequestIdMiddleware:
    """Sets the request id (and the request, for the user id) for everything logged while it
    is handled, and echoes the id in `X-Request-ID`."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _enter(self, request):
        given = request.headers.get(HEADER, "")
        rid = given if _VALID.match(given) else new_request_id()
        request.request_id = rid
        return rid, request_id.set(rid), current_request.set(request)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        rid, token, request_token = self._enter(request)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
            current_request.reset(request_token)
        response[HEADER] = rid
        return response

    async def __acall__(self, request):
        rid, token, request_token = self._enter(request)
        try:
            response = await self.get_response(request)
        finally:
            request_id.reset(token)
            current_request.reset(request_token)
        response[HEADER] = rid
        return response


def job_meta() -> dict[str, str]:
    """What an enqueued job carries so its logs join the request that enqueued it (and, when tracing
    is on, its span continues the enqueuing span's trace: W3C traceparent/tracestate)."""
    meta = {"request_id": request_id.get() or new_request_id()}
    user = _user_id()
    if user:
        meta["user_id"] = user
    tracing.inject(meta)
    return meta


def in_job_context(func: Callable) -> Callable:
    """Decorate an rq job: its logs carry the enqueuing request's id (or `job-<id>`); when tracing is
    on it runs in a CONSUMER span that continues (and links to) the enqueuing span."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        from rq import get_current_job

        job = get_current_job()
        meta = job.meta if job is not None else {}
        rid = meta.get("request_id") or (f"job-{job.id}" if job is not None else new_request_id())
        token, user_token = request_id.set(rid), job_user_id.set(meta.get("user_id", ""))
        try:
            with tracing.job_span(job, **{"cloudassist.request_id": rid}):
                return func(*args, **kwargs)
        finally:
            request_id.reset(token)
            job_user_id.reset(user_token)

    return run
