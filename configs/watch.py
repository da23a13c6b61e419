"""Change notifications for the long-poll watch (``GET /configs/{name}?wait=30s&version=N``).

Writers call :func:`changed` after a write has committed; it publishes the entry's new version
(0: deleted) on the Redis channel ``cloudassist:configs:<name>``. Each web process keeps one
pattern subscription to those channels (:class:`Hub`, one per process, listening in a background
thread) and wakes the watches waiting on that name; no Redis connection is held per waiting client.
Under the production server (gunicorn's gevent workers, cloudassist/serving.py) every thread here is
a greenlet: the listener and the waiting watches block cooperatively and hold no OS thread.
Notifications are best effort: watches also re-read the entry every CONFIG_WATCH_POLL_SECONDS,
so a lost message or an unreachable Redis delays an answer, never loses it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "cloudassist:configs:"
RECONNECT_MAX_SECONDS = 30.0

_publishers: dict[str, redis.Redis] = {}


def channel(name: str) -> str:
    return f"{CHANNEL_PREFIX}{name}"


def _publisher() -> redis.Redis:
    url = settings.REDIS_URL
    client = _publishers.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        _publishers[url] = client
    return client


def changed(name: str, version: int) -> None:
    """Announce that ``name`` is now at ``version`` (0: deleted). Best effort: never raises."""
    try:
        _publisher().publish(channel(name), str(version))
    except Exception:  # a write has committed; waiters find it by polling
        logger.warning("Could not announce config %r v%s on Redis; watches see it by polling", name, version)


class Waiter:
    """One waiting watch. ``event`` is set when it should look again: ``news`` when a version it
    does not have was announced, else only to re-read (after a Redis reconnection)."""

    def __init__(self, name: str):
        self.name = name
        self.seen: int | None = None  # the version the client has; None until the first read
        self.announced: list[int] = []  # announced before ``seen`` was known
        self.news = False
        self.event = threading.Event()

    def expect(self, seen: int) -> None:
        self.seen = seen
        if any(self._is_news(version) for version in self.announced):
            self.news = True
            self.event.set()
        self.announced.clear()

    def notify(self, version: int) -> None:
        if self.seen is None:
            self.announced.append(version)
        elif self._is_news(version):
            self.news = True
            self.event.set()

    def recheck(self) -> None:
        self.event.set()

    def _is_news(self, version: int) -> bool:
        # Deleted (0), or newer than what the client has. An older version is a late message
        # about a write the client already has; a re-created entry is announced as deleted first.
        return version == 0 or version > (self.seen or 0)


class Hub:
    """One Redis pattern subscription per process (a background thread), fanning messages out to
    the waiters."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiters: dict[str, set[Waiter]] = {}
        self.subscribed = threading.Event()  # set while the subscription is live
        self.tried = threading.Event()  # set once the first attempt to subscribe succeeded or failed
        self.released = False  # the server is stopping: waiting watches answer now
        self.failures = 0  # consecutive failed connection attempts
        self.thread: threading.Thread | None = None

    def ensure_running(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="cloudassist-config-watch", daemon=True)
                self.thread.start()

    @contextlib.contextmanager
    def waiter(self, name: str) -> Iterator[Waiter]:
        waiter = Waiter(name)
        with self.lock:
            self.waiters.setdefault(name, set()).add(waiter)
        self.ensure_running()
        try:
            yield waiter
        finally:
            with self.lock:
                waiters = self.waiters.get(name)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self.waiters[name]

    def _all(self, name: str | None = None) -> list[Waiter]:
        with self.lock:
            if name is not None:
                return list(self.waiters.get(name, ()))
            return [waiter for waiters in self.waiters.values() for waiter in waiters]

    def dispatch(self, name: str, version: int) -> None:
        for waiter in self._all(name):
            waiter.notify(version)

    def _wake_all(self) -> None:
        """After a (re)subscription: messages may have been missed, so every waiter re-reads."""
        for waiter in self._all():
            waiter.recheck()

    def release(self) -> None:
        """The server is stopping: every waiting watch answers now, with the entry as it is."""
        self.released = True
        self._wake_all()

    def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                self._listen()
            except Exception as exc:
                if self.subscribed.is_set() or self.failures == 0:  # once per outage
                    logger.warning("Config watch notifications unavailable (%s); watches poll the database", exc)
                    delay = 0.5
                self.failures += 1
            finally:
                self.subscribed.clear()
                self.tried.set()
            time.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def _listen(self) -> None:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_keepalive=True, health_check_interval=30
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
            if self.failures:
                logger.info("Config watch notifications are back (Redis reachable again)")
                self._wake_all()
            self.failures = 0
            self.subscribed.set()
            self.tried.set()
            while True:
                # A timeout lets the client send its health-check PING on a quiet connection.
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=15)
                if message is None or message.get("type") != "pmessage":
                    continue
                try:
                    name = message["channel"].decode()[len(CHANNEL_PREFIX) :]
                    version = int(message["data"])
                except (ValueError, UnicodeDecodeError):
                    continue
                self.dispatch(name, version)
        finally:
            with contextlib.suppress(Exception):
                pubsub.close()
            with contextlib.suppress(Exception):
                client.close()


_hubs: dict[int, Hub] = {}
_hubs_lock = threading.Lock()


def hub() -> Hub:
    """This process's hub (keyed by pid: a forked worker starts its own subscription)."""
    pid = os.getpid()
    with _hubs_lock:
        found = _hubs.get(pid)
        if found is None:
            found = _hubs[pid] = Hub()
        return found


def release_all() -> None:
    """Answer every waiting watch of this process now (the server is stopping; see cloudassist/serving.py)."""
    found = _hubs.get(os.getpid())
    if found is not None:
        found.release()
