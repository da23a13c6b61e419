"""Long-poll watch: ``GET /configs/{name}?wait=30s&version=N`` (Consul-style blocking query).

Answers at once when the entry's version differs from N (the client is behind), else as soon
as a newer version is written (or the entry is deleted: 404), else with the current entry when
the wait ends. ``X-CloudAssist-Watch: changed|timeout`` says which. Without ``version``, N is
the version in If-None-Match, else the version when the request arrived. With If-None-Match,
an unchanged entry at the end of the wait is a 304, as for a plain GET.

A plain synchronous view: the authentication, access check and reads are the DRF detail view
itself, and the wait blocks on an event set by the process's one Redis subscription
(configs/watch.py), with a database re-check every CONFIG_WATCH_POLL_SECONDS. The production server
(gunicorn's gevent workers, cloudassist/serving.py) runs each request in a greenlet, so a waiting
client holds neither an OS thread nor a worker; when the server stops, waiting watches answer at once.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from django.conf import settings
from rest_framework.exceptions import ValidationError

from configs import cache as config_cache
from configs import metrics, services, watch
from configs.api import views

HEADER = "X-CloudAssist-Watch"
SUBSCRIBE_WAIT_SECONDS = 1.0  # how long the first watches of a process wait for the Redis subscription
MIN_POLL_SECONDS = 0.05

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_wait(value: str) -> float:
    """``30s``, ``2m``, ``500ms``, ``1h`` or plain seconds; more than 0, at most CONFIG_MAX_WAIT_SECONDS."""
    limit = settings.CONFIG_MAX_WAIT_SECONDS
    match = _DURATION.fullmatch(value.strip())
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if not 0 < seconds <= limit:
        raise ValidationError(
            {"wait": [f"“{value}” is not a wait like 30s, 2m or 500ms, more than 0 and at most {limit}s."]}
        )
    return seconds


def parse_version(value: str) -> int:
    if not re.fullmatch(r"\d+", value.strip()):
        raise ValidationError({"version": [f"“{value}” is not a version: a whole number, 0 or more."]})
    return int(value)


@dataclass(frozen=True)
class Watch:
    wait: float
    seen: int  # the version the client has
    current: int  # the version when the request arrived


class WatchStartView(views.ConfigDetailView):
    """The synchronous first step, with the detail view's authentication and permissions:
    parameters (400), access (404), and the entry as it is now."""

    def get(self, request, name: str):
        errors: dict[str, list[str]] = {}
        wait, version = 0.0, None
        try:
            wait = parse_wait(request.query_params["wait"])
        except ValidationError as exc:
            errors.update(exc.detail)
        if "version" in request.query_params:
            try:
                version = parse_version(request.query_params["version"])
            except ValidationError as exc:
                errors.update(exc.detail)
        if errors:
            raise ValidationError(errors)
        config = services.get(actor=request.user, name=name)
        if version is None:
            version = views.etag_version(request.headers.get("If-None-Match", ""))
            if version is None:
                version = config.version
        response = views.entry(config)
        response.watch = Watch(wait=wait, seen=version, current=config.version)
        return response


_start = WatchStartView.as_view()


def _rendered(view, request, name: str):
    response = view(request, name=name)
    if hasattr(response, "render"):
        response.render()
    return response


def _current_version(name: str) -> int | None:
    """The live entry's version, or None when it is gone (access is checked by the final read)."""
    return services.live().filter(name=name).values_list("version", flat=True).first()


def _wait(hub: watch.Hub, waiter: watch.Waiter, *, name: str, seen: int, wait: float) -> None:
    """Return when a version other than ``seen`` is announced or read, when ``wait`` is over, or
    when the server is stopping."""
    deadline = time.monotonic() + wait
    poll = max(settings.CONFIG_WATCH_POLL_SECONDS, MIN_POLL_SECONDS)
    while (remaining := deadline - time.monotonic()) > 0:
        waiter.event.wait(timeout=min(remaining, poll))
        if waiter.news or hub.released:
            return
        if deadline - time.monotonic() <= 0:
            return
        # A poll (or a re-read after Redis came back): notifications are best effort.
        waiter.event.clear()
        if _current_version(name) != seen:
            return


def _version(response) -> int | None:
    return views.etag_version(response.get("ETag", ""))


def view(request, name: str):
    hub = watch.hub()
    with hub.waiter(name) as waiter:  # before the first read, so no announcement slips between
        if not hub.tried.is_set():  # the process's first watches: let the subscription start
            hub.tried.wait(timeout=SUBSCRIBE_WAIT_SECONDS)
        response = _rendered(_start, request, name)
        state: Watch | None = getattr(response, "watch", None)
        if state is None:  # 400, 401, 404 ...
            return response
        if state.current != state.seen:  # the client is behind: answer now
            response[HEADER] = "changed"
            return response
        waiter.expect(state.seen)
        with metrics.watch_waiting():
            _wait(hub, waiter, name=name, seen=state.seen, wait=state.wait)
    # The announcement or the poll that woke the watch may be ahead of this process's change feed:
    # read the entry from the database, not from the cache the feed keeps (configs/cache.py).
    config_cache.cache().forget(name)
    response = _rendered(views.detail_view, request, name)
    unchanged = response.status_code in (200, 304) and _version(response) == state.seen
    response[HEADER] = "timeout" if unchanged else "changed"
    return response
