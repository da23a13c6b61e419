"""django-rq entry points: thin, take ids, re-read, and do nothing when the row moved on."""

from __future__ import annotations

import logging

from provisioning.choices import RequestStatus
from provisioning.models import ProvisionRequest

logger = logging.getLogger(__name__)


def provision(request_id: str) -> str:
    """Provision an approved request. Safe to run twice: anything not APPROVED is left alone.

    The provider work (APPROVED -> INITIATED -> DEPLOYED/FAILED) arrives with the workers issue;
    until then the request stays APPROVED and the job says so.
    """
    status = ProvisionRequest.objects.filter(pk=request_id).values_list("status", flat=True).first()
    if status != RequestStatus.APPROVED:
        logger.info("provision(%s): nothing to do, status is %s", request_id, status)
        return f"skipped: {status}"
    logger.info("provision(%s): approved; no provider is wired in yet", request_id)
    return "pending: no provider yet"
