"""The config server's Prometheus metrics (conventions in cloudassist/metrics.py); imported by
ConfigsConfig.ready()."""

from collections.abc import Iterator
from contextlib import contextmanager

from cloudassist.metrics import Counter, Gauge

CONFIG_READS = Counter("cloudassist_config_reads_total", "Config server reads, by operation get|list.", ["operation"])
CONFIG_WRITES = Counter(
    "cloudassist_config_writes_total",
    "Committed config server writes, by operation create|replace|patch|rollback|delete.",
    ["operation"],
)
CONFIG_WATCHES_WAITING = Gauge(
    "cloudassist_config_watches_waiting",
    "Config watches (long polls) waiting for a change now, over the live web processes.",
    multiprocess_mode="livesum",
)


def config_read(operation: str) -> None:
    CONFIG_READS.labels(operation=operation).inc()


def config_written(operation: str) -> None:
    CONFIG_WRITES.labels(operation=operation).inc()


@contextmanager
def watch_waiting() -> Iterator[None]:
    """Count a config watch as waiting for the duration of the block."""
    CONFIG_WATCHES_WAITING.inc()
    try:
        yield
    finally:
        CONFIG_WATCHES_WAITING.dec()
