"""What a provision request holds on its requester's quota: checked at approval, moved by an
extension, given back exactly once (through quotas.services for now)."""

from __future__ import annotations

from datetime import datetime

from provisioning.models import ProvisionRequest
from quotas import services as quota_services
from quotas.estimates import Estimate


def check_still_within(*, request: ProvisionRequest) -> None:
    """At approval: the quota may have shrunk since submission (QuotaExceeded with a breakdown)."""
    quota_services.check_still_within(request=request)


def adjust(*, request: ProvisionRequest, estimate: Estimate) -> None:
    """Move the request's reservation to ``estimate`` (an extension changed its lifetime)."""
    quota_services.adjust(request=request, estimate=estimate)


def release(request: ProvisionRequest) -> bool:
    """Give back what the request holds, exactly once (call inside its transition)."""
    return quota_services.release(request_model=ProvisionRequest, request_id=request.pk)


def releasing(request: ProvisionRequest):
    """``release`` as a step of a transition."""

    def step(now: datetime) -> None:
        release(request)

    return step
