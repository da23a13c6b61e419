"""Throttles whose counters every web process shares."""

from django.core.cache import caches
from rest_framework.throttling import ScopedRateThrottle


class SharedScopedRateThrottle(ScopedRateThrottle):
    """DRF's scoped rate throttle, counting in the ``shared`` cache (Redis, REDIS_URL) rather than
    in each process's memory: with N web workers, a login limit of 30/minute is 30, not 30N."""

    @property
    def cache(self):
        return caches["shared"]
