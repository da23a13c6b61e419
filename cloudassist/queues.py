"""The way to rq's queues from a request (and from jobs and sweeps): bounded when Redis is down or hung.

Web requests do not need Redis to succeed: a submission, approval or config write is stored in
MongoDB first, and a job that could not be enqueued is enqueued again by the periodic sweep. So
Redis must never hold a request for long:

- every queue connection gives up after ``REDIS_TIMEOUT_SECONDS`` (connect and each read;
  ``RQ_QUEUES`` URLs carry them, cloudassist/settings.py). rq's worker raises the read timeout
  for its own blocking dequeue (rq ``Worker._set_connection``);
- once a queue operation failed with a connection error or a timeout, this process does not try
  Redis again for ``REDIS_RETRY_SECONDS``: ``queue()`` raises ``QueueUnavailable`` at once. One
  request pays the timeout, not every enqueue of every request (an approval enqueues its job and
  its emails) during an outage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import django_rq
import redis
from django.conf import settings

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class QueueUnavailable(RuntimeError):
    """Redis failed a moment ago in this process: not tried again yet."""


class _State:
    retry_at = 0.0  # time.monotonic() before which queue() does not try Redis


@contextmanager
def queue(name: str) -> Iterator:
    """``with queue("provisioning") as q: q.enqueue(...)``: the rq queue ``name``. Raises
    ``QueueUnavailable`` while Redis is known to be unreachable; a connection error or timeout
    inside the block marks it so (and propagates: callers log it, the sweep enqueues later)."""
    remaining = _State.retry_at - time.monotonic()
    if remaining > 0:
        raise QueueUnavailable(
            f"Redis failed less than {settings.REDIS_RETRY_SECONDS} s ago; trying again in {remaining:.1f} s"
        )
    try:
        yield django_rq.get_queue(name)
    except REDIS_ERRORS:
        _State.retry_at = time.monotonic() + settings.REDIS_RETRY_SECONDS
        raise
    else:
        _State.retry_at = 0.0


def unavailable() -> bool:
    """Whether ``queue()`` would refuse now."""
    return _State.retry_at > time.monotonic()


def reset() -> None:
    """Forget a past failure: the next ``queue()`` tries Redis (tests, after resuming Redis)."""
    _State.retry_at = 0.0


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
