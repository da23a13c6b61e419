"""One MongoDB change stream per process, fanned out to in-process caches.

Caches subscribe to the collections whose documents they copy and drop what a change touches::

    from cloudassist import changes
    changes.subscribe("configs_config", callback)   # at AppConfig.ready or import time
    # callback(change) with change.collection, change.operation ("insert" | "update" | "replace"
    # | "delete" | "reset") and change.key (the document's _id; None for "reset")
    changes.publish_local("configs_config", key)     # after your own write committed: this
                                                     # process's subscribers see it at once
    if changes.ensure_started(): ...                 # only then trust (and fill) a cache

The stream (``db.watch`` on the backend's database, ``$match`` on the subscribed collections) runs
in a daemon thread: a greenlet under the gevent workers (cloudassist/serving.py), so it waits
cooperatively. It resumes after its last event with the resume token. On any error it sends
"reset" (events may have been missed: drop everything) and reconnects with a short backoff;
``ensure_started`` answers False until the stream is open again, so nothing is cached meanwhile.
A forked process (the pid changed) drops what it inherited and starts its own stream.

MongoDB must be a replica set (the embedded server is one; production must be): on a standalone
server the stream never opens, ``ensure_started`` stays False and the caches stay empty.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from pymongo.errors import InvalidOperation

from cloudassist.internals import django_mongodb_backend as mongo_internals

logger = logging.getLogger(__name__)

THREAD_NAME = "cloudassist-changes"
AWAIT_SECONDS = 0.5  # a quiet stream's getMore returns after this long: new subscriptions, restarts
RECONNECT_MAX_SECONDS = 5.0
OPERATIONS = ("insert", "update", "replace", "delete")


@dataclass(frozen=True)
class Change:
    collection: str
    operation: str  # "insert" | "update" | "replace" | "delete" | "reset"
    key: object | None  # the document's _id; None for "reset"


Callback = Callable[[Change], None]


class _Feed:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.subscribers: dict[str, list[Callback]] = {}
        self.thread: threading.Thread | None = None
        self.watching: frozenset[str] = frozenset()  # the collections the open stream covers
        self.running = threading.Event()  # set while the stream is open
        self.restart_requested = False
        self.token: dict | None = None
        self.failures = 0

    # --- fan-out ---------------------------------------------------------------------------------

    def callbacks(self, collection: str | None = None) -> list[tuple[str, Callback]]:
        with self.lock:
            return [
                (name, callback)
                for name, callbacks in self.subscribers.items()
                if collection is None or name == collection
                for callback in callbacks
            ]

    def dispatch(self, change: Change) -> None:
        for _name, callback in self.callbacks(change.collection):
            _call(callback, change)

    def reset(self) -> None:
        for name, callback in self.callbacks():
            _call(callback, Change(name, "reset", None))

    # --- the stream ------------------------------------------------------------------------------

    def ensure_thread(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.run, name=THREAD_NAME, daemon=True)
                self.thread.start()

    def run(self) -> None:
        delay = 0.1
        while True:
            if self.pid != os.getpid():  # a forked copy of this thread cannot exist; be safe anyway
                return
            with self.lock:
                wanted = frozenset(self.subscribers)
            if not wanted:
                time.sleep(AWAIT_SECONDS)
                continue
            try:
                self.listen(wanted)
                delay = 0.1
            except InvalidOperation as exc:  # the client was closed under us (close_pool): take the new one
                mongo_internals.forget_client(connections[DEFAULT_DB_ALIAS])
                self.failed(exc)
                time.sleep(delay)
            except Exception as exc:
                self.failed(exc)
                time.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def failed(self, exc: Exception) -> None:
        self.running.clear()
        self.watching = frozenset()
        if self.failures == 0:
            logger.warning("MongoDB change feed interrupted (%s); in-process caches are dropped", exc)
        self.failures += 1
        self.reset()

    def listen(self, wanted: frozenset[str]) -> None:
        """Watch ``wanted`` until the subscriptions change (returns) or anything fails (raises)."""
        database = connections[DEFAULT_DB_ALIAS].database
        pipeline = [{"$match": {"ns.coll": {"$in": sorted(wanted)}}}]
        try:
            stream = database.watch(
                pipeline=pipeline, resume_after=self.token, max_await_time_ms=int(AWAIT_SECONDS * 1000)
            )
        except Exception:
            if self.token is None:
                raise
            # The resume point may be gone (oplog rolled over): start from now; "reset" covers the gap.
            self.token = None
            raise
        with stream:
            self.token = stream.resume_token
            self.watching = wanted
            self.running.set()
            if self.failures:
                logger.info("MongoDB change feed is back")
                self.failures = 0
            while True:
                event = stream.try_next()
                if self.restart_requested:
                    self.restart_requested = False
                    raise RuntimeError("change feed restarted")
                if self.pid != os.getpid():
                    return
                if event is not None:
                    self.handle(event)
                self.token = stream.resume_token
                with self.lock:
                    if frozenset(self.subscribers) != wanted:
                        return  # reopened over the new set, resuming after the last event

    def handle(self, event: dict) -> None:
        operation = event.get("operationType")
        collection = (event.get("ns") or {}).get("coll", "")
        if operation in OPERATIONS:
            self.dispatch(Change(collection, operation, (event.get("documentKey") or {}).get("_id")))
        elif operation in ("drop", "rename"):  # every document of the collection went away
            self.dispatch(Change(collection, "reset", None))
        else:  # "invalidate" (the database was dropped) ends the stream; start again from now
            self.token = None
            raise RuntimeError(f"change stream ended by {operation!r}")


def _call(callback: Callback, change: Change) -> None:
    try:
        callback(change)
    except Exception:
        logger.exception("Change feed subscriber %r failed on %s", callback, change)


_feed = _Feed()


def _feed_here() -> _Feed:
    """This process's feed. After a fork the parent's thread does not exist here: start over, and
    tell the subscribers (their inherited contents are no longer watched)."""
    global _feed  # noqa: PLW0603 -- one feed per process
    if _feed.pid != os.getpid():
        inherited = _feed
        _feed = _Feed()
        _feed.subscribers = {name: list(callbacks) for name, callbacks in inherited.subscribers.items()}
        _feed.reset()
    return _feed


def _after_fork_in_child() -> None:
    _feed_here()  # a fresh lock: the parent's may have been held by its feed thread at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)


def subscribe(collection: str, callback: Callback) -> None:
    """Call ``callback(change)`` for every change to ``collection`` (a MongoDB collection name),
    and with a "reset" change whenever changes may have been missed."""
    feed = _feed_here()
    with feed.lock:
        feed.subscribers.setdefault(collection, []).append(callback)


def unsubscribe(collection: str, callback: Callback) -> None:
    feed = _feed_here()
    with feed.lock:
        callbacks = feed.subscribers.get(collection, [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks:
            feed.subscribers.pop(collection, None)


def subscribed(collection: str) -> bool:
    feed = _feed_here()
    return collection in feed.subscribers


def publish_local(collection: str, key: object, operation: str = "update") -> None:
    """This process's subscribers to ``collection`` learn at once that ``key`` changed (call it
    after your own write committed; the stream tells the other processes, and this one again)."""
    _feed_here().dispatch(Change(collection, operation, key))


def ensure_started() -> bool:
    """Start this process's stream if it is not running (idempotent). True when it is open and
    covers every subscribed collection: only then may a cache trust and fill its contents."""
    feed = _feed_here()
    feed.ensure_thread()
    if not feed.running.is_set():
        return False
    with feed.lock:
        wanted = frozenset(feed.subscribers)
    return bool(wanted) and wanted <= feed.watching


def wait_started(timeout: float = 10.0) -> bool:
    """``ensure_started``, waiting up to ``timeout`` seconds for the stream to open (tests, warm-up)."""
    deadline = time.monotonic() + timeout
    while not ensure_started():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def restart() -> None:
    """Close the stream and open it again, as after an error: subscribers get "reset"."""
    feed = _feed_here()
    feed.running.clear()
    feed.restart_requested = True


def is_feed_thread() -> bool:
    """True in the feed's own thread (command listeners leave its getMores out)."""
    return threading.current_thread().name == THREAD_NAME
