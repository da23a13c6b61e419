"""Prometheus metrics: the metric objects, the helpers services call, the MongoDB command
listener, the scrape-time collectors, and the protected ``/metrics`` view.

Naming: ``cloudassist_`` prefix, units in the name (``_seconds``, ``_total``); labels only take
values from small fixed sets (view names, command names, statuses, queue names), never paths
or ids. HTTP metrics per view come from django-prometheus's middlewares (``django_http_*``),
cache metrics from its cache backend wrapper (``django_cache_*``).

Processes. Each gunicorn worker and each rq work horse (a fork per job) is its own process, so a
counter in the default in-memory registry would only show one process's share. When
``PROMETHEUS_MULTIPROC_DIR`` is set, prometheus_client keeps every value in per-process files
in that directory and ``/metrics`` (web) or the worker's metrics port (rq) adds them up with a
``MultiProcessCollector``. prometheus_client picks its value class at import time; this module
sets it again explicitly when the directory is configured, before any metric exists (the apps
create theirs with the classes imported from here), so import order does not matter. Work horses
share one file set per rq worker (one horse runs at a time), instead of leaving a new file set behind for every job.

Scrape-time numbers (requests per status from MongoDB, queue depths from Redis) are not process
metrics: they are computed by collectors registered on the exposition registry of the web's
``/metrics`` only. Every web replica reports the same values: aggregate them with ``max``.

The core's metrics live here (MongoDB commands, rq jobs, the cache); each app keeps its own in
``<app>/metrics.py``, imported by its AppConfig.ready(), which also registers its scrape-time
collectors (``register_scrape_collector``). Keep this module's imports light (no models).
"""

from __future__ import annotations

import logging
import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from pymongo import monitoring

from cloudassist import changes

__all__ = ["Counter", "Gauge", "Histogram"]  # what the apps import from here: their metrics are made with these

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str:
    return os.environ.get(MULTIPROC_ENV, "")


# --- process mode ------------------------------------------------------------------------------


class _Process:
    horse_of: int | None = None  # in an rq work horse: the pid of its worker
    role = "horse"  # "spare": a horse forked ahead of its job, still waiting for it
    worker_server = None  # the worker's metrics HTTP server, once started


def _process_identifier() -> str | int:
    """The per-process file suffix: the pid, or one shared name for the work horses of a worker
    (and one for its spare horse: it warms up while the previous horse still writes its files)."""
    return f"{_Process.role}{_Process.horse_of}" if _Process.horse_of is not None else os.getpid()


def enter_spare_horse() -> None:
    """Called first thing in a spare horse, forked before its job arrives (cloudassist.worker.Worker)."""
    _Process.horse_of, _Process.role = os.getppid(), "spare"


def enter_work_horse() -> None:
    """Called first thing in a freshly forked rq work horse, or in a spare once it has its job."""
    _Process.horse_of, _Process.role = os.getppid(), "horse"


if multiprocess_dir():
    os.makedirs(multiprocess_dir(), exist_ok=True)
    values.ValueClass = values.MultiProcessValue(process_identifier=_process_identifier)


# --- metrics -----------------------------------------------------------------------------------
# The apps define theirs in <app>/metrics.py (imported by their AppConfig.ready()) with the metric
# classes imported from here, so that multiprocess mode is configured before any metric exists.

FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)

MONGODB_COMMAND_DURATION = Histogram(
    "cloudassist_mongodb_command_duration_seconds",
    "MongoDB command round trips (successful and failed), by command name.",
    ["command"],
    buckets=FAST_BUCKETS,
)
MONGODB_COMMAND_FAILURES = Counter(
    "cloudassist_mongodb_command_failures_total", "MongoDB commands that failed, by command name.", ["command"]
)
RQ_JOBS = Counter(
    "cloudassist_rq_jobs_total",
    "rq job executions ending, by queue, job function and outcome finished|failed|retried|stopped.",
    ["queue", "job", "outcome"],
)
RQ_JOB_DURATION = Histogram(
    "cloudassist_rq_job_duration_seconds",
    "rq job executions (one attempt), by queue and job function.",
    ["queue", "job"],
    buckets=SLOW_BUCKETS,
)
CACHE_OPERATION_DURATION = Histogram(
    "cloudassist_cache_operation_duration_seconds",
    "Django cache operations, by backend and operation (get, set, add, delete, incr, ...).",
    ["backend", "operation"],
    buckets=FAST_BUCKETS,
)
CACHE_GETS = Counter(
    "cloudassist_cache_gets_total", "Django cache reads, by backend and result hit|miss.", ["backend", "result"]
)


# --- helpers called by the services (one line each at the call site) ---------------------------


def cache_operation(*, backend: str, operation: str, seconds: float) -> None:
    CACHE_OPERATION_DURATION.labels(backend=backend, operation=operation).observe(seconds)


def cache_get(*, backend: str, hit: bool) -> None:
    CACHE_GETS.labels(backend=backend, result="hit" if hit else "miss").inc()


def _job_name(job) -> str:
    try:
        return job.func_name or "unknown"
    except Exception:  # a job whose function cannot be deserialised
        return "unknown"


def job_ended(*, queue: str, job, outcome: str) -> None:
    RQ_JOBS.labels(queue=queue, job=_job_name(job), outcome=outcome).inc()


def job_duration(*, queue: str, job, seconds: float) -> None:
    RQ_JOB_DURATION.labels(queue=queue, job=_job_name(job)).observe(seconds)


# --- MongoDB commands --------------------------------------------------------------------------


class MongoCommandMetrics(monitoring.CommandListener):
    """Durations and failures of every command the MongoClient runs. Registered through
    DATABASES OPTIONS ``event_listeners`` (MongoClient kwargs), so it covers the backend's client."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if changes.is_feed_thread():
            return  # the change feed's getMores wait on purpose (cloudassist/changes.py)
        MONGODB_COMMAND_DURATION.labels(command=event.command_name).observe(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        MONGODB_COMMAND_DURATION.labels(command=event.command_name).observe(event.duration_micros / 1e6)
        MONGODB_COMMAND_FAILURES.labels(command=event.command_name).inc()

    def __deepcopy__(self, memo):  # settings dicts get deep-copied (tests); the listener is stateless
        return self


# --- scrape-time collectors (web /metrics only) ------------------------------------------------


class QueueCollector:
    """``cloudassist_rq_queue_jobs{queue,state}`` for every queue in RQ_QUEUES: queued (the list's
    length) and the started/scheduled/deferred/failed registries (plain ZCARDs, no cleanup)."""

    name = "rq_queues"

    def collect(self):
        import django_rq
        from django.conf import settings

        family = GaugeMetricFamily(
            "cloudassist_rq_queue_jobs",
            "Jobs per rq queue and state (queued, started, scheduled, deferred, failed).",
            labels=["queue", "state"],
        )
        try:
            for name in settings.RQ_QUEUES:
                queue = django_rq.get_queue(name)
                family.add_metric([name, "queued"], float(queue.count))
                for state, registry in (
                    ("started", queue.started_job_registry),
                    ("scheduled", queue.scheduled_job_registry),
                    ("deferred", queue.deferred_job_registry),
                    ("failed", queue.failed_job_registry),
                ):
                    family.add_metric([name, state], float(registry.get_job_count(cleanup=False)))
        except Exception:
            logger.warning("metrics: cannot read the rq queues", exc_info=True)
            yield up(self.name, False)
            return
        yield family
        yield up(self.name, True)


class RedisCollector:
    """``cloudassist_redis_up``: 1 when Redis (the queues, the shared cache) answered a PING at
    scrape time, within REDIS_TIMEOUT_SECONDS. The web serves without it (/ready stays 200), so this
    is where an outage shows: alert on it."""

    name = "redis"

    def collect(self):
        from cloudassist import queues

        try:
            queues.ping()
        except Exception:
            logger.warning("metrics: Redis does not answer", exc_info=True)
            ok = False
        else:
            ok = True
        family = GaugeMetricFamily("cloudassist_redis_up", "1 when Redis answered a PING at scrape time.")
        family.add_metric([], 1.0 if ok else 0.0)
        yield family


class _ProcessRegistry:
    """The process's own metrics: the files of every process (multiprocess mode) or this one's."""

    def collect(self):
        if multiprocess_dir():
            return MultiProcessCollector(None).collect()
        return REGISTRY.collect()


_SCRAPE_COLLECTORS: list = []


def register_scrape_collector(collector) -> None:
    """Add a scrape-time collector to the web's ``/metrics`` (an app calls this from its
    AppConfig.ready()); a second collector with the same ``name`` replaces the first."""
    _SCRAPE_COLLECTORS[:] = [c for c in _SCRAPE_COLLECTORS if c.name != collector.name]
    _SCRAPE_COLLECTORS.append(collector)


def up(name: str, ok: bool) -> GaugeMetricFamily:
    """``cloudassist_collector_up{collector}``: whether a scrape-time collector could read its source."""
    family = GaugeMetricFamily(
        "cloudassist_collector_up", "1 when a scrape-time collector could read its source.", labels=["collector"]
    )
    family.add_metric([name], 1.0 if ok else 0.0)
    return family


def exposition_registry(*, scrape_time: bool = True) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessRegistry())
    if scrape_time:
        for collector in (*_SCRAPE_COLLECTORS, RedisCollector(), QueueCollector()):
            registry.register(collector)
    return registry


# --- the worker's endpoint ---------------------------------------------------------------------


def start_worker_server(port: int | None = None, addr: str | None = None):
    """Serve the worker's process metrics on ``addr:port`` (default: WORKER_METRICS_ADDR and
    WORKER_METRICS_PORT), once per process. Returns the server, or None when no port is configured."""
    if _Process.worker_server is not None:
        return _Process.worker_server
    from django.conf import settings

    if port is None:
        port = settings.WORKER_METRICS_PORT or None
    if port is None:
        return None
    addr = addr or settings.WORKER_METRICS_ADDR
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=addr, registry=exposition_registry(scrape_time=False))
    _Process.worker_server = server
    # Forked children (work horses, rq's scheduler process) must not keep the listening socket: one
    # that outlives a killed worker would hold the port, and the restarted worker could not bind it.
    os.register_at_fork(after_in_child=_close_inherited_server)
    logger.info("worker metrics on http://%s:%s/metrics", addr, server.server_port)
    return server


def _close_inherited_server() -> None:
    """In a forked child: close the worker's listening socket (the thread serving it was not forked)."""
    server, _Process.worker_server = _Process.worker_server, None
    if server is not None:
        server.socket.close()


def stop_worker_server() -> None:
    server, _Process.worker_server = _Process.worker_server, None
    if server is not None:
        server.shutdown()
        server.server_close()
