"""django-rq entry points for the config server."""

from cloudassist.logs import in_job_context
from configs import services


@in_job_context
def purge_expired() -> int:
    return services.purge_expired()
