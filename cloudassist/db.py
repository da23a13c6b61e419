"""Multi-document transactions on MongoDB, retried when MongoDB says the conflict was transient.

``django.db.transaction.atomic`` does nothing on django-mongodb-backend; its own ``atomic``
runs a real transaction (the embedded and production servers are replica sets). Two
transactions writing the same document make the later one fail with a *transient* write
conflict instead of waiting, so callers run their unit of work through ``run_atomic``,
which retries it from the start. The unit re-reads what it depends on and decides again
(typically: its compare-and-set now matches nothing and it answers 409).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django_mongodb_backend import transaction
from pymongo.errors import ConnectionFailure, PyMongoError

from cloudassist.internals import django_mongodb_backend as mongo_internals

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 8
TRANSIENT_LABELS = ("TransientTransactionError", "UnknownTransactionCommitResult")


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a MongoDB error labelled retryable."""
    seen = exc
    while seen is not None:
        has_label = getattr(seen, "has_error_label", None)
        if has_label and any(has_label(label) for label in TRANSIENT_LABELS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_unavailable(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what caused it) says MongoDB cannot be reached: no server selected
    within MONGODB_TIMEOUT_MS, a connection refused, reset or timed out (pymongo's
    ``ConnectionFailure`` family: ``ServerSelectionTimeoutError``, ``AutoReconnect``,
    ``NetworkTimeout``), however the backend wrapped it (``django.db.DatabaseError``)."""
    seen, depth = exc, 0
    while seen is not None and depth < 20:
        if isinstance(seen, ConnectionFailure):
            return True
        seen, depth = seen.__cause__ or seen.__context__, depth + 1
    return False


def _discard_session(using: str) -> None:
    """After a failed commit the backend may keep its session; end it so the next atomic starts clean."""
    connection = connections[using]
    mongo_internals.leave_atomic_block(connection)
    if connection.session is not None:
        try:
            if connection.session.in_transaction:
                connection.session.abort_transaction()
        except PyMongoError:
            pass
        mongo_internals.end_session(connection)
    connection.run_on_commit = []


def run_atomic(unit: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS, attempts: int = MAX_ATTEMPTS) -> T:
    """Run ``unit`` in one MongoDB transaction, retrying it on transient transaction errors.

    Must be the outermost transaction: a retry inside an enclosing one cannot start over.
    """
    if mongo_internals.in_atomic_block(connections[using]):
        raise RuntimeError("run_atomic() cannot be nested inside another transaction")
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic(using):
                return unit()
        except Exception as exc:
            _discard_session(using)
            # An unreachable server is not a write conflict: retrying would only multiply the wait.
            if not is_transient(exc) or is_unavailable(exc) or attempt == attempts:
                raise
            logger.debug("transient transaction conflict, retrying (attempt %s): %s", attempt, exc)
            time.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311 -- jitter, not crypto
    raise AssertionError("unreachable")
