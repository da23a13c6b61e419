"""Asking for an environment: the expiry it may have, its price, the quota reservation, and
the one edit allowed while it waits for review."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bson import ObjectId
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cloudassist.db import run_atomic
from cloudassist.exceptions import Conflict
from providers.base import Plan
from provisioning import policies, transitions
from provisioning.choices import RequestStatus, RequestType
from provisioning.models import ProvisionRequest
from provisioning.policies import Policy
from provisioning.services.lifecycle import provider_not_configured
from provisioning.services.queueing import DEFAULT_QUEUE, enqueue
from quotas import analysis, estimates
from quotas import services as quota_services
from quotas.choices import ReservationState
from templates import planning
from templates.models import Template


def resolve_expiry(
    *, template: Template, request_type: str, expires_at: datetime | None, now: datetime
) -> datetime | None:
    """TEMPORARY: in the future and within the template's maximum lifetime (default lifetime
    when omitted). PERMANENT: no expiry."""
    if request_type == RequestType.PERMANENT:
        if expires_at is not None:
            raise ValidationError({"expires_at": ["Permanent requests do not expire; leave expires_at out."]})
        return None
    if expires_at is None:
        return _to_millis(now + timedelta(hours=template.default_lifetime_hours))
    if expires_at <= now:
        raise ValidationError({"expires_at": ["Must be in the future."]})
    latest = now + timedelta(hours=template.max_lifetime_hours)
    if expires_at > latest:
        raise ValidationError(
            {
                "expires_at": [
                    f"Must be within the template's maximum lifetime of {template.max_lifetime_hours} hours "
                    f"(at the latest {latest.isoformat(timespec='seconds')})."
                ]
            }
        )
    return _to_millis(expires_at)


def _to_millis(moment: datetime) -> datetime:
    """MongoDB stores milliseconds; answer with what a later read will return."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Prepared:
    rendered: Any
    plan: Plan
    expires_at: datetime | None
    estimate: estimates.Estimate
    now: datetime


def prepare_request(
    *,
    template: Template,
    parameters: Any,
    request_type: str,
    expires_at: datetime | None,
    request_id: str | None = None,
) -> Prepared:
    """Everything a submission checks before it writes: active template, configured provider (409
    naming the setting), parameters, the rendered document and its plan (names for ``request_id``),
    expiry, and the price of that plan."""
    if not template.is_active:
        raise ValidationError({"template": [f"Template '{template.pk}' is inactive and cannot be requested."]})
    unavailable = provider_not_configured(template.provider)
    if unavailable is not None:
        raise Conflict(
            f"Template '{template.pk}' cannot be requested now: {unavailable.message}",
            code=unavailable.code,
            template=template.pk,
            **unavailable.extra,
        )
    planned = planning.plan(
        provider=template.provider,
        body=template.body,
        schema=template.parameters_schema,
        parameters=parameters,
        request_id=request_id,
    )
    now = timezone.now()
    expires_at = resolve_expiry(template=template, request_type=request_type, expires_at=expires_at, now=now)
    estimate = planning.price(planned.plan, lifetime_hours(request_type=request_type, expires_at=expires_at, now=now))
    return Prepared(rendered=planned.rendered, plan=planned.plan, expires_at=expires_at, estimate=estimate, now=now)


def estimate_request(
    *,
    actor,
    template: Template,
    parameters: Any,
    request_type: str = RequestType.TEMPORARY,
    expires_at: datetime | None = None,
    **_ignored: Any,
) -> dict[str, Any]:
    """Plan and price a request without submitting it, and say whether it would fit the caller's quota now."""
    prepared = prepare_request(
        template=template, parameters=parameters, request_type=request_type, expires_at=expires_at
    )
    return {
        "template": template.pk,
        "template_version": template.version,
        "parameters": prepared.rendered.parameters,
        "request_type": request_type,
        "expires_at": prepared.expires_at,
        "plan": prepared.plan.as_dict(),
        "estimate": prepared.estimate.as_dict(),
        "quota": quota_services.preview(user=actor, amounts=prepared.estimate.reservation()),
    }


def submit_request(
    *,
    actor,
    template: Template,
    parameters: Any,
    description: str = "",
    request_type: str = RequestType.TEMPORARY,
    expires_at: datetime | None = None,
) -> ProvisionRequest:
    """Validate the parameters against the template's schema, render and plan the document, price
    the plan, reserve the estimate on the requester's quota (409 when it does not fit), and store
    the request with its plan (what provisioning will apply, as it is) and a snapshot of the
    template version it was made from. The request's id is chosen first, so that the plan names
    what it will create exactly as it will be named."""
    request_id = ObjectId()
    prepared = prepare_request(
        template=template,
        parameters=parameters,
        request_type=request_type,
        expires_at=expires_at,
        request_id=str(request_id),
    )
    rendered, expires_at, estimate, now = prepared.rendered, prepared.expires_at, prepared.estimate, prepared.now
    policy = Policy.of_template(template)
    snapshot = {
        "name": template.name,
        "resource_type": template.resource_type,
        "provider": template.provider,
        "body": template.body,
        "parameters_schema": template.parameters_schema,
        policies.SNAPSHOT_KEY: policy.as_snapshot(),  # the rules this request lives by
    }

    quota = quota_services.effective_quota(actor, now=now)  # one command
    amounts = estimate.reservation()
    estimate_usd = estimate.as_dict()["usd"]

    def unit() -> ProvisionRequest:
        # The reservation and the request commit together, or neither does: nothing to give back.
        # One conditional update reserves (the limits are in its filter: 409 with a breakdown when
        # it does not fit) and answers the ledger after it, for the remarks. Concurrent submissions
        # of one user conflict on their ledger document and run again.
        held_after = quota_services.reserve_and_read(user=actor, amounts=amounts, quota=quota)
        remarks = analysis.analyse(
            estimate=estimate,
            quota=quota,
            reserved_after=held_after,
            parameters=rendered.parameters,
            permanent=request_type == RequestType.PERMANENT,
            max_lifetime_hours=template.max_lifetime_hours,
        )
        request = ProvisionRequest.objects.create(
            id=request_id,
            requested_by=actor,
            template=template,
            template_version=template.version,
            template_snapshot=snapshot,
            parameters=rendered.parameters,
            plan=prepared.plan.as_dict(),
            description=description,
            request_type=request_type,
            expires_at=expires_at,
            cost_estimate=estimate.as_dict(),
            analysis_remarks=remarks,
            required_approvals=policy.approvals_needed(usd=estimate.usd),
            review_deadline=policy.review_deadline(created_at=now, expires_at=expires_at),
            reservation=amounts,
            reservation_state=ReservationState.HELD,
        )
        transitions.record(
            subject=request,
            actor=actor,
            action=transitions.SUBMIT.action,
            to_status=request.status,
            data={"template": template.pk, "template_version": template.version, "estimate_usd": estimate_usd},
        )
        return request

    try:
        request = run_atomic(unit)
    except quota_services.LedgerMissing:  # a user's first request: their ledger, once, outside the transaction
        quota_services.ledger_for(actor)
        request = run_atomic(unit)
    enqueue("analyse", request.pk, queue=DEFAULT_QUEUE)
    return request


def lifetime_hours(*, request_type: str, expires_at: datetime | None, now: datetime) -> Decimal:
    """The hours a request is priced for: every started hour until it expires, or the permanent horizon."""
    if request_type == RequestType.PERMANENT or expires_at is None:
        return Decimal(settings.PERMANENT_ESTIMATE_HOURS)
    return Decimal(math.ceil((expires_at - now).total_seconds() / 3600))


def update_description(*, actor, request: ProvisionRequest, description: str) -> ProvisionRequest:
    """The requester may reword the description while the request waits for review."""
    if actor.pk != request.requested_by_id:
        raise PermissionDenied("Only the requester may edit this provision request.")
    previous = request.description

    def unit() -> int:
        now = timezone.now()
        written = ProvisionRequest.objects.filter(pk=request.pk, status=RequestStatus.REQUESTED).update(
            description=description, updated_at=now
        )
        if written:
            transitions.record_same_status(
                subject=request,
                actor=actor,
                action="edit",
                status=RequestStatus.REQUESTED,
                data={"description": {"from": previous, "to": description}},
            )
            request.description, request.updated_at = description, now
        return written

    if not run_atomic(unit):
        current = ProvisionRequest.objects.filter(pk=request.pk).values_list("status", flat=True).first()
        raise transitions.InvalidTransition(subject=request, action="edit", current=current or request.status)
    return request
