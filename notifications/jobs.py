"""django-rq entry points for the outbox (thin, by id)."""

from notifications import services


def deliver(delivery_id: str) -> str:
    return services.deliver(delivery_id)


def sweep() -> dict[str, int]:
    return services.sweep()
