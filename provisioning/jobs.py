"""django-rq entry points: thin, take ids, and call provisioning.provisioner.

Enqueued by provisioning.services.enqueue (deterministic job ids, retries with backoff) and
by the cron schedule in cloudassist/cron.py (the sweep).
"""

from __future__ import annotations

from provisioning import provisioner


def analyse(request_id: str) -> str:
    return provisioner.analyse(request_id)


def provision(request_id: str) -> str:
    return provisioner.provision(request_id)


def purge(request_id: str) -> str:
    return provisioner.purge(request_id)


def sweep() -> dict[str, int]:
    return provisioner.sweep()
