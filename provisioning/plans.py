"""A request's plan: stored at submission and applied as it is, even if its template changed since.

Requests submitted before plans were stored are planned once more from their template snapshot
(the same body, schema and parameters), named for their id."""

from __future__ import annotations

from decimal import Decimal

from providers.base import Plan
from quotas.estimates import Estimate
from templates import planning


def plan_of(request) -> Plan:
    if request.plan:
        return Plan.from_dict(request.plan)
    snapshot = request.template_snapshot or {}
    return planning.plan(
        provider=snapshot.get("provider", ""),
        body=snapshot.get("body", ""),
        schema=snapshot.get("parameters_schema", {}),
        parameters=request.parameters,
        request_id=str(request.pk),
    ).plan


def price_of(request, hours: Decimal) -> Estimate:
    """The estimate of the request's own plan over ``hours`` (an extension prices the same resources)."""
    return planning.price(plan_of(request), hours)
