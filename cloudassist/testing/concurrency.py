"""Races for the concurrency tests: real threads on the real MongoDB, released together."""

from __future__ import annotations

import threading
from collections import Counter

from django.core.exceptions import PermissionDenied
from django.db import connections

from cloudassist.exceptions import ApplicationError


def race(workers: int, action, *, count_results: bool = False) -> Counter:
    """Run ``action(i)`` in ``workers`` threads released together; count the outcomes ("ok", or
    with ``count_results`` what ``action`` returned, e.g. a status code; or the name of the
    domain error or PermissionDenied raised)."""
    barrier = threading.Barrier(workers)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            barrier.wait()
            result = action(index)
            outcome = result if count_results else "ok"
        except (ApplicationError, PermissionDenied) as exc:
            outcome = type(exc).__name__
        finally:
            connections.close_all()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
