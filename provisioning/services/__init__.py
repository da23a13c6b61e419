"""Provisioning use cases (writes), one module per job; the public names are re-exported here.

- submission: resolve_expiry, prepare/estimate/submit a request, lifetime_hours, update_description
- review: decide (approve or reject a provision or an extension request), revoke
- extensions: request_extension, what an approved or ended extension does, DevOps' extend_expired
- lifecycle: the system's moves (provisioning, deployed, failed, expiry, review time-out, purge),
  and the ways out of a failure (retry_provisioning, mark_cleaned_up)
- reservations: the request's hold on its requester's quota
- secrets: the environment's encrypted kubeconfig or credentials
- queueing: enqueueing the workers' jobs

Every status change goes through ``transitions.transition`` (compare-and-set + audit Event
in one transaction). Callers pass the acting user, or None for the system. The modules
import one another by module path, never through this package, so no circle runs through it.
"""

from provisioning.services.extensions import extend_expired, extension_available, request_extension
from provisioning.services.lifecycle import (
    expire,
    mark_cleaned_up,
    mark_deployed,
    mark_failed,
    mark_purge_failed,
    mark_purged,
    retry_provisioning,
    start_provisioning,
    start_purge,
    time_out,
)
from provisioning.services.queueing import DEFAULT_QUEUE, PROVISIONING_QUEUE, enqueue, job_abandoned
from provisioning.services.review import (
    approve_extension,
    approve_request,
    decide,
    reject_extension,
    reject_request,
    revoke,
    revoke_extension,
    revoke_request,
)
from provisioning.services.secrets import read_secret
from provisioning.services.submission import (
    Prepared,
    estimate_request,
    lifetime_hours,
    prepare_request,
    resolve_expiry,
    submit_request,
    update_description,
)

__all__ = [
    "DEFAULT_QUEUE",
    "PROVISIONING_QUEUE",
    "Prepared",
    "approve_extension",
    "approve_request",
    "decide",
    "enqueue",
    "estimate_request",
    "expire",
    "extend_expired",
    "extension_available",
    "job_abandoned",
    "lifetime_hours",
    "mark_cleaned_up",
    "mark_deployed",
    "mark_failed",
    "mark_purge_failed",
    "mark_purged",
    "prepare_request",
    "read_secret",
    "reject_extension",
    "reject_request",
    "request_extension",
    "resolve_expiry",
    "retry_provisioning",
    "revoke",
    "revoke_extension",
    "revoke_request",
    "start_provisioning",
    "start_purge",
    "submit_request",
    "time_out",
    "update_description",
]
