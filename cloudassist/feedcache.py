"""A per-process cache of rarely changing rows, dropped whenever the change feed says they changed.

    cache = FeedCache("templates", collections=("templates_template",), max_entries=512)
    template = cache.get(("template", pk), lambda: load(pk))

Nothing is cached while the feed (cloudassist/changes.py) is not running: ``get`` then loads
every time. Any change to a watched collection (from the stream, or ``changes.publish_local``
after this process's own write) empties the whole cache: these tables change seldom and are
small, so exactness beats cleverness. A load that started before a change is not kept (a
generation counter), so a value read before a write is never cached after it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cloudassist import changes

_CACHES: list[FeedCache] = []


class FeedCache:
    def __init__(self, name: str, *, collections: tuple[str, ...], max_entries: int = 1024) -> None:
        self.name = name
        self.collections = collections
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[Any, Any] = OrderedDict()
        self._generation = 0
        for collection in collections:
            changes.subscribe(collection, self._changed)
        _CACHES.append(self)

    def _changed(self, change: changes.Change) -> None:
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def get(self, key: Any, load: Callable[[], Any]) -> Any:
        """The cached value of ``key``, else ``load()`` (kept when no change came in meanwhile)."""
        if not changes.ensure_started():
            return load()
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            generation = self._generation
        value = load()
        with self._lock:
            if generation == self._generation:
                self._entries[key] = value
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)


def clear_all() -> None:
    """Empty every feed cache of this process (tests, between databases)."""
    for cache in _CACHES:
        cache.clear()
