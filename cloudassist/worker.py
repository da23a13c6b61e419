"""The rq worker class (settings.RQ["WORKER_CLASS"]): rq's forking Worker plus metrics and a
preload. ``SimpleWorker`` is the same without the fork (one process: tests, debugging).

- Before its first job the worker imports what the jobs use (``preload``): rq forks a fresh work
  horse per job, and a module first imported in a horse is imported again by the next horse. The
  providers alone (kubernetes, boto3) cost about half a second per job that way, and building the
  URL resolver (for links in notifications) another 50 ms (`make bench`).

- With WORKER_METRICS_PORT set, the worker process serves its metrics on 0.0.0.0:<port>/metrics
  (started once, in the parent, before the first job is forked); with PROMETHEUS_MULTIPROC_DIR
  set it adds up the parent's and the work horses' values (cloudassist/metrics.py).
- Every job execution is timed and counted by queue, job function and outcome (finished, failed,
  retried, stopped), including horses that die or time out (the parent handles those).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import select
import signal
import time

import rq
from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from cloudassist import metrics
from cloudassist.apps import project_apps
from cloudassist.internals import django_mongodb_backend as mongo_internals
from cloudassist.internals import rq as rq_internals


def _load(path: str) -> None:
    """Import a module by dotted path, or call the function a dotted path names."""
    try:
        importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name != path:
            raise
        import_string(path)()


def preload() -> None:
    """Import, in the worker process, every module a job may need (each app's ``worker_preload``),
    so work horses inherit them."""
    for config in project_apps():
        for path in config.worker_preload:
            _load(path)
    reverse("health")  # builds the URL resolver once (notifications link to the API: ~50 ms per horse otherwise)


_in_worker = False  # True once this process runs Worker.work(): its forks die with it


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when the process that forked it dies (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _after_fork_in_child() -> None:
    """Every process a worker forks (work horses, the spare, rq's scheduler process) ends with the
    worker: left alone they outlive a killed worker (rq puts horses in their own process group),
    a horse carrying on with a job nobody watches any more while the sweep runs it again
    (provisioning/provisioner.py ``reconcile``), the scheduler keeping its locks."""
    if _in_worker:
        _die_with_parent()


os.register_at_fork(after_in_child=_after_fork_in_child)


class MetricsMixin:
    def __init__(self, *args, **kwargs):
        # How often the worker checks on its horse and renews the job's heartbeat (rq: 30 s): a job
        # whose heartbeat is older than STALE_JOB_SECONDS lost its worker, and the sweep resumes it.
        kwargs.setdefault("job_monitoring_interval", settings.RQ_JOB_MONITORING_SECONDS)
        # rq starts its scheduler process again (it dies when Redis goes away) only in its maintenance,
        # every 10 minutes and no more often than the idle worker wakes up (worker_ttl - 15 s): retries
        # would wait that long after an outage. Both every RQ_MAINTENANCE_SECONDS here.
        kwargs.setdefault("maintenance_interval", settings.RQ_MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(super().dequeue_timeout, settings.RQ_MAINTENANCE_SECONDS))

    def work(self, *args, **kwargs):
        global _in_worker  # noqa: PLW0603 -- read by the at-fork hook in the children
        _in_worker = not isinstance(self, rq.SimpleWorker)  # SimpleWorker runs jobs in its own process
        preload()
        metrics.start_worker_server()
        return super().work(*args, **kwargs)

    def main_work_horse(self, job, queue):
        metrics.enter_work_horse()  # before the job touches any metric
        return super().main_work_horse(job, queue)

    def perform_job(self, job, queue) -> bool:
        started = time.perf_counter()
        try:
            return super().perform_job(job, queue)
        finally:
            metrics.job_duration(queue=queue.name, job=job, seconds=time.perf_counter() - started)

    def handle_job_success(self, job, queue, started_job_registry):
        metrics.job_ended(queue=queue.name, job=job, outcome="finished")
        return super().handle_job_success(job, queue, started_job_registry)

    def handle_job_retry(self, job, queue, retry, started_job_registry, execution):
        metrics.job_ended(queue=queue.name, job=job, outcome="retried")
        return super().handle_job_retry(job, queue, retry, started_job_registry, execution)

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string=""):
        stopped = rq_internals.stopped_job_id(self) == job.id
        outcome = "stopped" if stopped else ("retried" if job.should_retry else "failed")
        metrics.job_ended(queue=queue.name, job=job, outcome=outcome)
        return super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)


class ForkingWorker(MetricsMixin, rq.Worker):
    """rq's forking worker as it comes: one ``fork()`` per job, after the job is dequeued (what ran
    until the preforking Worker replaced it; kept for `make bench`'s comparison)."""


class Worker(MetricsMixin, rq.Worker):
    """A forking worker that forks its work horse *before* the job arrives (one spare horse).

    rq's Worker forks after dequeueing, so every job waits for the fork and then for the horse to
    open its own Redis and MongoDB connections (pymongo clients are not fork-safe: a horse must not
    use the parent's). Here a spare horse is forked while the worker waits, opens and warms its own
    connections, and blocks on a pipe; when a job is dequeued the worker writes its id to the pipe
    and the spare runs it through rq's ``main_work_horse``, exactly as a freshly forked horse would.
    The next spare is forked at once, while the job runs.

    Each job still runs in a process of its own that exits after it: the worker monitors it with
    rq's own ``monitor_work_horse``, so a horse that dies (``os._exit``, SIGKILL, the OOM killer) or
    times out fails or retries its job as before, and the worker carries on with the next spare. A
    spare that is gone when a job arrives is replaced by an ordinary fork. A spare exits when the
    worker stops, or when the worker dies (its pipe closes, or its parent changes).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._spare: tuple[int, int] | None = None  # (pid, write end of its pipe)

    # --- the worker (parent) ------------------------------------------------------------------

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        self._ensure_spare()
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def fork_work_horse(self, job, queue):
        spare, self._spare = self._spare, None
        if spare is not None and self._hand_over(spare, job, queue):
            rq_internals.set_horse_pid(self, spare[0])
            self.procline(f"Handed {job.id} to spare horse {spare[0]} at {time.time()}")
            self._ensure_spare()  # the next job's horse, forked while this one works
            return
        super().fork_work_horse(job, queue)

    def teardown(self):
        self._discard_spare()
        super().teardown()

    def _ensure_spare(self) -> None:
        if self._spare is not None:
            if _alive(self._spare[0]):
                return
            self._discard_spare()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the spare horse
            try:
                os.close(write_fd)
                self._spare_main(read_fd)
            finally:
                os._exit(1)  # _spare_main never returns; just in case
        os.close(read_fd)
        self._spare = (pid, write_fd)

    def _hand_over(self, spare: tuple[int, int], job, queue) -> bool:
        pid, write_fd = spare
        try:
            if not _alive(pid):
                return False
            message = json.dumps({"job": job.id, "queue": queue.name, "execution": self.execution.id})
            os.write(write_fd, message.encode() + b"\n")
            return True
        except OSError:  # BrokenPipeError: it died just now
            _reap(pid)
            return False
        finally:
            os.close(write_fd)

    def _discard_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is None:
            return
        pid, write_fd = spare
        with contextlib.suppress(OSError):
            os.close(write_fd)  # the spare reads end-of-file and exits
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)  # it runs no job: nothing to lose
        _reap(pid, block=True)

    # --- the spare horse (child) --------------------------------------------------------------

    def _spare_main(self, read_fd: int) -> None:
        worker_pid = os.getppid()
        metrics.enter_spare_horse()  # its warm-up's metrics apart from the running horse's files
        os.setpgrp()  # its own process group, as rq's horses: killing it never touches the worker
        self.setup_work_horse_signals()
        self._spare = None
        _fresh_connections(self)
        message = _wait_for_message(read_fd, worker_pid)
        os.close(read_fd)
        if message is None:  # the worker stopped or died
            os._exit(0)
        # A horse from here on (its metrics go to the worker's horse files): the previous horse has exited.
        metrics.enter_work_horse()
        from rq.executions import Execution

        job = self.job_class.fetch(message["job"], connection=self.connection, serializer=self.serializer)
        queue = next((q for q in self.queues if q.name == message["queue"]), None) or self.queue_class(
            message["queue"], connection=self.connection, serializer=self.serializer
        )
        self.execution = Execution.fetch(message["execution"], job.id, connection=self.connection)
        os.environ["RQ_WORKER_ID"] = self.name
        os.environ["RQ_JOB_ID"] = job.id
        self.main_work_horse(job, queue)  # exits the process


def _alive(pid: int) -> bool:
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == 0


def _reap(pid: int, *, block: bool = False) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0 if block else os.WNOHANG)


def _wait_for_message(read_fd: int, worker_pid: int) -> dict | None:
    """The job the worker hands over, or None once the worker has stopped or died."""
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([read_fd], [], [], 1.0)
        if not ready:
            if os.getppid() != worker_pid:
                return None
            continue
        chunk = os.read(read_fd, 4096)
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


def _fresh_connections(worker) -> None:
    """In a freshly forked horse: its own Redis and MongoDB connections, opened before the job.

    redis-py notices the fork and opens new sockets; a MongoClient inherited from the worker (if it
    ever opened one) is dropped, not used, and a new one is connected (the backend's version check
    is the one command it sends). A server that is down is not an error here: the job then fails
    or retries as it would have.
    """
    from django.db import connections

    with contextlib.suppress(Exception):
        worker.connection.ping()
    for connection in connections.all():
        mongo_internals.drop_inherited_client(connection)  # the parent's client: never used after the fork
        with contextlib.suppress(Exception):
            connection.ensure_connection()


class SimpleWorker(MetricsMixin, rq.SimpleWorker):
    pass
