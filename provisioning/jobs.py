"""django-rq entry points: thin, take ids, and call provisioning.provisioner.

Enqueued by provisioning.services.enqueue (deterministic job ids, retries with backoff) and
by the cron schedule in cloudassist/cron.py (the sweep).
"""

from __future__ import annotations

from cloudassist.logs import in_job_context
from provisioning import provisioner, reconciliation


@in_job_context
def analyse(request_id: str) -> str:
    return provisioner.analyse(request_id)


@in_job_context
def provision(request_id: str) -> str:
    return provisioner.provision(request_id)


@in_job_context
def purge(request_id: str) -> str:
    return provisioner.purge(request_id)


@in_job_context
def sweep() -> dict[str, int]:
    return provisioner.sweep()


@in_job_context
def reconcile_resources() -> dict[str, int]:
    return reconciliation.reconcile_resources()
