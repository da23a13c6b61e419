"""Config entries in memory, one cache per process: ``GET /configs/{name}`` reads them at memory speed.

What is cached is data, never a decision: an :class:`Entry` holds the entry's access lists and
its response body (rendered once, when it was loaded); every read checks access again
(configs/services.py, :func:`~configs.services.read`). Bounded by CONFIG_CACHE_ENTRIES and
CONFIG_CACHE_BYTES (least recently read first out).

Kept true by the change feed (cloudassist/changes.py: a change to an entry drops it in every
process; a "reset", when the feed may have missed events, drops everything) and, on the process
that wrote, synchronously after the commit (:func:`written`), so a writer never reads its own
entry stale after its 2xx. The cache is used only while the feed runs (``changes.ensure_started()``);
a forked worker starts empty (the feed resets it).

A load that raced a change is not kept: every change bumps a generation, and :meth:`ConfigCache.put`
stores an entry only if no change arrived since its load began (:meth:`ConfigCache.generation`).
An entry's owner's username is in the body: a change to that user drops their entries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from cloudassist import changes, metrics

COLLECTION = "configs_config"
#: What an entry costs besides its body (the object, its access lists, the dict slots), roughly.
ENTRY_OVERHEAD_BYTES = 512


@dataclass(frozen=True, slots=True)
class Entry:
    pk: object
    name: str
    version: int
    owner_id: object
    read_roles: tuple[str, ...]
    write_roles: tuple[str, ...]
    expires_at: datetime | None
    body: bytes  # the JSON the detail view answers

    @property
    def size(self) -> int:
        return len(self.body) + ENTRY_OVERHEAD_BYTES

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class ConfigCache:
    """Entries by name, least recently read first; thread- and greenlet-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._names: dict[object, str] = {}  # pk -> name (the feed knows only the _id)
        self._bytes = 0
        self._generation = 0

    # --- reads ------------------------------------------------------------------------------------

    def get(self, name: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None:
                self._entries.move_to_end(name)
        if entry is not None and entry.expired():
            self.forget(name)  # gone for the database too (services.by_name): a miss, then a 404
            entry = None
        metrics.cache_get(backend="configs", hit=entry is not None)
        return entry

    def generation(self) -> int:
        """Take this before loading an entry and hand it to :meth:`put`."""
        return self._generation

    def put(self, entry: Entry, *, generation: int) -> bool:
        """Keep ``entry`` unless something changed since ``generation`` (its load may be stale) or
        it alone is larger than the byte bound. Evicts the least recently read to stay in bounds."""
        max_entries, max_bytes = settings.CONFIG_CACHE_ENTRIES, settings.CONFIG_CACHE_BYTES
        if max_entries <= 0 or entry.size > max_bytes:
            return False
        with self._lock:
            if generation != self._generation:
                return False
            self._remove(entry.name)
            self._entries[entry.name] = entry
            self._names[entry.pk] = entry.name
            self._bytes += entry.size
            while len(self._entries) > max_entries or self._bytes > max_bytes:
                self._remove(next(iter(self._entries)))
        return True

    # --- invalidation -------------------------------------------------------------------------------

    def forget(self, name: str) -> None:
        with self._lock:
            self._generation += 1
            self._remove(name)

    def discard(self, pk: object) -> None:
        with self._lock:
            self._generation += 1
            name = self._names.get(pk)
            if name is not None:
                self._remove(name)

    def discard_owned_by(self, user_id: object) -> None:
        with self._lock:
            self._generation += 1
            for name in [name for name, entry in self._entries.items() if entry.owner_id == user_id]:
                self._remove(name)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._names.clear()
            self._bytes = 0

    def _remove(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None:
            self._bytes -= entry.size
            if self._names.get(entry.pk) == name:
                del self._names[entry.pk]

    # --- introspection (tests, metrics) ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    @property
    def bytes(self) -> int:
        return self._bytes


_cache = ConfigCache()


def cache() -> ConfigCache:
    return _cache


def enabled() -> bool:
    """Cache only while this process follows the change feed (else nothing would drop a stale entry)."""
    return settings.CONFIG_CACHE_ENTRIES > 0 and changes.ensure_started()


def written(*, name: str, pk: object) -> None:
    """After a write of ``name`` has committed on this process: drop it here now, and tell this
    process's other subscribers (the feed tells the other processes)."""
    _cache.forget(name)  # by name too: a cached entry of that name may be an older, deleted one
    changes.publish_local(COLLECTION, pk)


def _on_config_change(change: changes.Change) -> None:
    if change.operation == "reset" or change.key is None:
        _cache.clear()
    else:
        _cache.discard(change.key)


def _on_user_change(change: changes.Change) -> None:
    if change.operation == "reset" or change.key is None:
        _cache.clear()
    else:
        _cache.discard_owned_by(change.key)  # their username is in their entries' bodies


def subscribe() -> None:
    """Follow the feed (ConfigsConfig.ready)."""
    changes.subscribe(COLLECTION, _on_config_change)
    changes.subscribe(get_user_model()._meta.db_table, _on_user_change)
