"""The way to rq's queues from a request (and from jobs and sweeps): bounded when Redis is down or hung.

Web requests do not need Redis to succeed: a submission, approval or config write is stored in
MongoDB first, and a job that could not be enqueued is enqueued again by the periodic sweep. So
Redis must never hold a request for long:

- every queue connection gives up after ``REDIS_TIMEOUT_SECONDS`` (connect and each read;
  ``RQ_QUEUES`` URLs carry them, cloudassist/settings.py). rq's worker raises the read timeout
  for its own blocking dequeue (rq ``Worker._set_connection``);
- once a queue operation failed with a connection error or a timeout, the rest of the same request
  (or job: a sweep) does not try Redis again: ``queue()`` raises ``QueueUnavailable`` at once. An
  approval enqueues its job and then its emails: it pays one timeout, not one per enqueue. The
  next request tries again (no state outlives the request that saw the failure).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

import django_rq
import redis
from django.conf import settings

from cloudassist import logs

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

# The request (or job) id that saw Redis fail, with the failure: only that request skips Redis.
_failed: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("redis_failed", default=None)


class QueueUnavailable(RuntimeError):
    """Redis failed earlier in this request or job: not tried again before it ends."""


def unavailable() -> str:
    """Why ``queue()`` refuses in this request or job ("" when it does not). Outside any request
    or job (a shell, a management command) it never refuses."""
    failed = _failed.get()
    current = logs.request_id.get()
    return failed[1] if failed is not None and current and failed[0] == current else ""


@contextmanager
def queue(name: str) -> Iterator:
    """``with queue("provisioning") as q: q.enqueue(...)``: the rq queue ``name``. Raises
    ``QueueUnavailable`` when Redis already failed in this request or job; a connection error or
    timeout inside the block marks it so (and propagates: callers log it, the sweep enqueues later)."""
    reason = unavailable()
    if reason:
        raise QueueUnavailable(f"Redis failed earlier in this request, not tried again: {reason}")
    try:
        yield django_rq.get_queue(name)
    except REDIS_ERRORS as exc:
        _failed.set((logs.request_id.get(), f"{type(exc).__name__}: {exc}"))
        raise


def ping() -> None:
    """PING the Redis the queues use, giving up after ``REDIS_TIMEOUT_SECONDS`` (raises when it does
    not answer). Always asks Redis, even while ``queue()`` leaves it alone: /ready and /metrics say
    what Redis does now."""
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_TIMEOUT_SECONDS,
        socket_timeout=settings.REDIS_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()
