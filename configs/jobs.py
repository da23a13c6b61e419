"""django-rq entry points for the config server."""

from configs import services


def purge_expired() -> int:
    return services.purge_expired()
