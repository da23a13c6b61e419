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

import importlib
import time

import rq

from cloudassist import metrics

# The job modules and what they import lazily; the provider modules come from their registry.
PRELOAD = ("provisioning.jobs", "provisioning.provisioner", "notifications.jobs", "configs.jobs", "cloudassist.cron")


def preload() -> None:
    """Import, in the worker process, every module a job may need, so work horses inherit them."""
    from django.urls import reverse

    from provisioning import providers

    for module in PRELOAD:
        importlib.import_module(module)
    providers.names()  # imports every provider module (and kubernetes, boto3)
    reverse("health")  # builds the URL resolver once (notifications link to the API: ~50 ms per horse otherwise)


class MetricsMixin:
    def work(self, *args, **kwargs):
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
        stopped = self._stopped_job_id == job.id
        outcome = "stopped" if stopped else ("retried" if job.should_retry else "failed")
        metrics.job_ended(queue=queue.name, job=job, outcome=outcome)
        return super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)


class Worker(MetricsMixin, rq.Worker):
    pass


class SimpleWorker(MetricsMixin, rq.SimpleWorker):
    pass
