"""The local-memory cache (DRF's throttling uses it) with timings and hit/miss counts.

django-prometheus's LocMemCache wrapper only counts gets and answers ``default`` for any falsy
cached value (0, "", []); this one times every operation and keeps the cache's own semantics.
"""

from __future__ import annotations

import time
from functools import wraps

from django.core.cache.backends.locmem import LocMemCache

from cloudassist import metrics

_MISSING = object()


def _timed(name: str):
    def decorate(method):
        @wraps(method)
        def timed(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                metrics.cache_operation(backend="locmem", operation=name, seconds=time.perf_counter() - started)

        return timed

    return decorate


class InstrumentedLocMemCache(LocMemCache):
    @_timed("get")
    def get(self, key, default=None, version=None):
        found = super().get(key, _MISSING, version=version)
        metrics.cache_get(backend="locmem", hit=found is not _MISSING)
        return default if found is _MISSING else found

    set = _timed("set")(LocMemCache.set)
    add = _timed("add")(LocMemCache.add)
    delete = _timed("delete")(LocMemCache.delete)
    touch = _timed("touch")(LocMemCache.touch)
    incr = _timed("incr")(LocMemCache.incr)
    has_key = _timed("has_key")(LocMemCache.has_key)
    clear = _timed("clear")(LocMemCache.clear)
