"""Enqueueing the workers' jobs, and the helper that runs several steps of one transition.

Jobs are named by their dotted path (``provisioning.jobs.<name>``), which rq imports when it
runs them: the services do not import the jobs (the jobs call the provisioner, which calls
the services).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rq import Retry
from rq.exceptions import NoSuchJobError

from cloudassist import logs, queues

logger = logging.getLogger(__name__)

PROVISIONING_QUEUE = "provisioning"
DEFAULT_QUEUE = "default"
WAITING_JOB_STATES = ("queued", "started", "scheduled", "deferred")
JOBS_MODULE = "provisioning.jobs"


def _job_id(job_name: str, request_id) -> str:
    return f"{job_name}-{request_id}"


def job_abandoned(job_name: str, request_id, *, queue: str = PROVISIONING_QUEUE) -> bool | None:
    """Whether the request's job is lost: gone from rq (Redis was down or emptied), or started by a
    worker that no longer renews its heartbeat (killed; its horse died with it, cloudassist/worker.py).
    A retry no scheduler enqueued in time (rq's scheduler process died, e.g. in a Redis outage, and
    its worker starts it again only at its next maintenance) is lost too. A job that is waiting,
    running or retried later is not; one that finished or failed is left to the stuck-request rules.
    None when Redis cannot be asked."""
    try:
        with queues.queue(queue) as rq_queue:
            job = rq_queue.fetch_job(_job_id(job_name, request_id))
            if job is None:
                return True
            stale = timezone.now() - timedelta(seconds=settings.STALE_JOB_SECONDS)
            state = job.get_status(refresh=False)
            if state == "scheduled":  # a retry: overdue when no scheduler moved it to its queue in time
                try:
                    return rq_queue.scheduled_job_registry.get_scheduled_time(job) < stale
                except NoSuchJobError:
                    return True
            if state != "started":
                return False
            heartbeat = job.last_heartbeat or job.started_at
            if heartbeat is not None and timezone.is_naive(heartbeat):
                heartbeat = heartbeat.replace(tzinfo=UTC)  # rq writes UTC
            return heartbeat is not None and heartbeat < stale
    except Exception:
        logger.warning("Cannot look up job %s(%s)", job_name, request_id, exc_info=True)
        return None


def enqueue(job_name: str, request_id, *, queue: str = PROVISIONING_QUEUE, abandoned: bool = False) -> None:
    """Enqueue ``provisioning.jobs.<job_name>(request_id)`` with retries and backoff.

    The job id is deterministic, so enqueueing twice does not run it twice in parallel. When
    Redis is down the row keeps its status and the sweep enqueues the job again later.
    ``abandoned``: the job rq still calls started lost its worker (``job_abandoned``): run it again.
    """
    intervals = list(settings.JOB_RETRY_INTERVALS)
    job_id = _job_id(job_name, request_id)
    try:
        with queues.queue(queue) as rq_queue:  # Redis down or hung: at most REDIS_TIMEOUT_SECONDS
            pending = rq_queue.fetch_job(job_id)
            waiting = WAITING_JOB_STATES if not abandoned else ("queued", "deferred")
            if pending is not None and pending.get_status(refresh=False) in waiting:
                return  # already waiting or running: the sweep's re-enqueue must not queue it twice
            if abandoned:
                rq_queue.scheduled_job_registry.remove(job_id)  # an overdue retry runs now, once
            rq_queue.enqueue(
                f"{JOBS_MODULE}.{job_name}",
                str(request_id),
                job_id=job_id,
                retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
                meta=logs.job_meta(),  # the job's logs carry this request's id
            )
    except queues.QueueUnavailable as exc:
        logger.warning("Did not enqueue %s(%s): %s; the sweep will retry", job_name, request_id, exc)
    except Exception:
        logger.exception("Could not enqueue %s(%s); the sweep will retry", job_name, request_id)


Step = Callable[[datetime], None]


def chain(*steps: Step | None) -> Step:
    """Several ``also`` steps of one transition, run in order inside its transaction (None: skipped)."""

    def run(now: datetime) -> None:
        for step in steps:
            if step is not None:
                step(now)

    return run
