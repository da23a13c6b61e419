"""Multi-document transactions on MongoDB, and retries of what MongoDB says is worth retrying.

``django.db.transaction.atomic`` does nothing on django-mongodb-backend; its own ``atomic``
runs a real transaction (the embedded and production servers are replica sets). Two
transactions writing the same document make the later one fail with a *transient* write
conflict instead of waiting, so callers run their unit of work through ``run_atomic``,
which retries it from the start. The unit re-reads what it depends on and decides again
(typically: its compare-and-set now matches nothing and it answers 409).

Elections. While a replica set elects a new primary (0.02-1 s after a stepdown, ~10 s after a
crash) writes fail with "not primary" / "node is recovering" codes, ``InterruptedDueToReplStateChange``
or a dropped connection. ``run_atomic`` retries those too, with bounded jittered backoff for up to
MONGODB_TIMEOUT_MS, then lets the error through: ``is_unavailable`` counts it, so the API and the
pages answer 503 with Retry-After (cloudassist/outages.py), never 500. A commit whose result is
unknown (``UnknownTransactionCommitResult``) is retried *as a commit* (pymongo's
``ClientSession.with_transaction`` rules), never by running the unit again, which could apply
its writes twice.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure, PyMongoError, WriteConcernError

from cloudassist.internals import django_mongodb_backend as mongo_internals

logger = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT = "TransientTransactionError"
UNKNOWN_COMMIT = "UnknownTransactionCommitResult"
TRANSIENT_LABELS = (TRANSIENT, UNKNOWN_COMMIT)

# Server error codes that mean "this node cannot take the operation now; another (or this one,
# shortly) will": not primary, node recovering or shutting down, interrupted by an election, and
# the network errors a mongos reports. pymongo retries these itself only for single-document
# writes and reads (its ``helpers_shared._RETRYABLE_ERROR_CODES``; cloudassist/tests/test_db.py
# fails loudly if pymongo's list grows beyond this one).
NOT_PRIMARY_CODES = frozenset(
    {
        10107,  # NotWritablePrimary
        13435,  # NotPrimaryNoSecondaryOk
        13436,  # NotPrimaryOrSecondary
        10058,  # LegacyNotPrimary
        189,  # PrimarySteppedDown ("Not primary while writing")
        11602,  # InterruptedDueToReplStateChange
        11600,  # InterruptedAtShutdown
        91,  # ShutdownInProgress
    }
)
RETRYABLE_CODES = NOT_PRIMARY_CODES | {
    6,  # HostUnreachable
    7,  # HostNotFound
    89,  # NetworkTimeout
    9001,  # SocketException
    262,  # ExceededTimeLimit
    134,  # ReadConcernMajorityNotAvailableYet
}

MAX_BACKOFF_SECONDS = 0.25
MAX_CONFLICT_ATTEMPTS = 64  # write conflicts only: elections are bounded by time alone


def _chain(exc: BaseException | None):
    """``exc`` and what caused it, however the backend wrapped it (``django.db.DatabaseError``)."""
    seen, depth = exc, 0
    while seen is not None and depth < 20:
        yield seen
        seen, depth = seen.__cause__ or seen.__context__, depth + 1


def _codes(exc: BaseException) -> set[int]:
    """Every server error code ``exc`` carries: its own, its write errors' and its write concern error's."""
    codes: set[int] = set()
    if isinstance(exc, OperationFailure) and exc.code is not None:
        codes.add(exc.code)
    details = getattr(exc, "details", None) or {}
    if isinstance(exc, BulkWriteError | WriteConcernError | OperationFailure) and isinstance(details, dict):
        for error in details.get("writeErrors") or ():
            codes.add(error.get("code"))
        concern = details.get("writeConcernError")
        if isinstance(concern, dict):
            codes.add(concern.get("code"))
    return codes


def _has_label(exc: BaseException, label: str) -> bool:
    return any(getattr(seen, "has_error_label", None) and seen.has_error_label(label) for seen in _chain(exc))


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a MongoDB error labelled retryable."""
    return any(_has_label(exc, label) for label in TRANSIENT_LABELS)


def is_unavailable(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what caused it) says MongoDB cannot take the operation now: no server
    selected within MONGODB_TIMEOUT_MS, a connection refused, reset or timed out (pymongo's
    ``ConnectionFailure`` family: ``ServerSelectionTimeoutError``, ``AutoReconnect``,
    ``NetworkTimeout``), or a not-primary / node-recovering code (an election; ``RETRYABLE_CODES``),
    however the backend wrapped it (``django.db.DatabaseError``)."""
    return any(isinstance(seen, ConnectionFailure) or _codes(seen) & RETRYABLE_CODES for seen in _chain(exc))


def is_retryable(exc: BaseException) -> bool:
    """Worth trying again from the start: an election, a dropped connection, or a transient transaction error."""
    return _has_label(exc, TRANSIENT) or is_unavailable(exc)


def describe(exc: BaseException | None) -> str:
    """``Class: message`` of ``exc`` and of what it wraps, for the 503 log lines (a wrapped pymongo
    error often has an empty message of its own)."""
    parts = []
    for seen in _chain(exc):
        text = f"{type(seen).__name__}: {seen}".rstrip(": ") if str(seen) else type(seen).__name__
        if text not in parts:
            parts.append(text)
    return " <- ".join(parts) or "no exception"


def retry_budget(using: str = DEFAULT_DB_ALIAS) -> float:
    """How long (seconds) an operation keeps retrying an election: MONGODB_TIMEOUT_MS."""
    options = settings.DATABASES[using].get("OPTIONS", {})
    return options.get("serverSelectionTimeoutMS", 2000) / 1000


class _Backoff:
    """Jittered exponential pauses that stop before ``budget`` seconds have passed."""

    def __init__(self, budget: float):
        self.deadline = time.monotonic() + budget
        self.attempt = 0

    def pause(self, *, timed: bool = True) -> bool:
        """Sleep before the next attempt; False when the budget does not allow one (``timed``)."""
        self.attempt += 1
        delay = random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.005 * 2**self.attempt))  # noqa: S311 -- jitter
        if timed and time.monotonic() + delay >= self.deadline:
            return False
        time.sleep(delay)
        return True


def retry_write(write: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS) -> T:
    """Run a write outside a transaction, again while MongoDB is electing (bounded by
    MONGODB_TIMEOUT_MS). Only for writes that are safe to apply twice (a compare-and-set, an
    upsert, a ``$set``): an error after the server applied it (11602) repeats it. A counter
    (``F() + n``) belongs in ``run_atomic``, where a retry cannot apply it twice."""
    backoff = _Backoff(retry_budget(using))
    while True:
        try:
            return write()
        except Exception as exc:
            if not is_unavailable(exc) or not backoff.pause():
                raise
            logger.info("MongoDB unavailable, retrying the write (attempt %s): %s", backoff.attempt, describe(exc))


def _discard_session(using: str) -> None:
    """After a failed unit or commit end the session, so the next attempt starts clean."""
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


def _commit(connection, backoff: _Backoff) -> None:
    """Commit the connection's transaction; an unknown result is retried as a commit, never by
    running the unit again (a retried commit of a committed transaction answers ok)."""
    while True:
        try:
            connection.session.commit_transaction()
            return
        except PyMongoError as exc:
            if (
                exc.has_error_label(UNKNOWN_COMMIT)
                and not (isinstance(exc, OperationFailure) and exc.code == 50)  # MaxTimeMSExpired
                and backoff.pause()
            ):
                logger.info("commit result unknown, committing again (attempt %s): %s", backoff.attempt, describe(exc))
                continue
            raise


def run_atomic(unit: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS, attempts: int = MAX_CONFLICT_ATTEMPTS) -> T:
    """Run ``unit`` in one MongoDB transaction: again from the start on a write conflict (at most
    ``attempts`` times) or an election (for up to MONGODB_TIMEOUT_MS); a commit whose
    result is unknown is committed again. Then the on-commit callbacks run.

    Drives django-mongodb-backend's transaction itself, as its ``atomic()`` does (through
    cloudassist/internals/django_mongodb_backend.py), because ``atomic()`` cannot retry a commit alone.

    Must be the outermost transaction: a retry inside an enclosing one cannot start over.
    """
    connection = connections[using]
    if mongo_internals.in_atomic_block(connection):
        raise RuntimeError("run_atomic() cannot be nested inside another transaction")
    backoff = _Backoff(retry_budget(using))
    while True:
        committing = False
        try:
            mongo_internals.enter_atomic_block(connection)  # nested atomic()s join; on_commit() waits
            try:
                result = unit()
            finally:
                mongo_internals.leave_atomic_block(connection)
            committing = True
            _commit(connection, backoff)
            mongo_internals.end_session(connection)
        except Exception as exc:
            _discard_session(using)
            # A commit that failed without TransientTransactionError may have happened: never run the unit again.
            again = _has_label(exc, TRANSIENT) if committing else is_retryable(exc)
            # A write conflict means another transaction got there first and committed or will
            # shortly: bounded by attempts. An election is bounded by MONGODB_TIMEOUT_MS.
            conflict = not is_unavailable(exc)
            if not again or backoff.attempt + 1 >= attempts or not backoff.pause(timed=not conflict):
                raise
            logger.debug("transaction failed, running it again (attempt %s): %s", backoff.attempt, describe(exc))
            continue
        mongo_internals.run_commit_hooks(connection)
        return result
