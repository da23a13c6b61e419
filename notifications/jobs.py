"""django-rq entry points for the outbox (thin, by id)."""

from cloudassist.logs import in_job_context
from notifications import services


@in_job_context
def deliver(delivery_id: str) -> str:
    return services.deliver(delivery_id)


@in_job_context
def sweep() -> dict[str, int]:
    return services.sweep()
