"""Enqueueing the workers' jobs, and the helper that runs several steps of one transition.

Jobs are named by their dotted path (``provisioning.jobs.<name>``), which rq imports when it
runs them: the services do not import the jobs (the jobs call the provisioner, which calls
the services).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import django_rq
from django.conf import settings
from rq import Retry

from cloudassist import logs

logger = logging.getLogger(__name__)

PROVISIONING_QUEUE = "provisioning"
DEFAULT_QUEUE = "default"
WAITING_JOB_STATES = ("queued", "started", "scheduled", "deferred")
JOBS_MODULE = "provisioning.jobs"


def enqueue(job_name: str, request_id, *, queue: str = PROVISIONING_QUEUE) -> None:
    """Enqueue ``provisioning.jobs.<job_name>(request_id)`` with retries and backoff.

    The job id is deterministic, so enqueueing twice does not run it twice in parallel. When
    Redis is down the row keeps its status and the sweep enqueues the job again later.
    """
    intervals = list(settings.JOB_RETRY_INTERVALS)
    job_id = f"{job_name}-{request_id}"
    try:
        rq_queue = django_rq.get_queue(queue)
        pending = rq_queue.fetch_job(job_id)
        if pending is not None and pending.get_status(refresh=False) in WAITING_JOB_STATES:
            return  # already waiting or running: the sweep's re-enqueue must not queue it twice
        rq_queue.enqueue(
            f"{JOBS_MODULE}.{job_name}",
            str(request_id),
            job_id=job_id,
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            meta=logs.job_meta(),  # the job's logs carry this request's id
        )
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
