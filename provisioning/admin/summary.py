"""The summary card on a provision request's review page: total cost, quota use, the analysis as
sentences, the policy's verdict, and what the request creates (its plan's resources, above the
estimate's line items), read from the request, its policy and the requester's quota."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from cloudassist.admin import dollars
from cloudassist.exceptions import ApplicationError
from provisioning import policies
from provisioning.choices import RequestStatus
from quotas import services as quota_services

QUOTA_REMARKS = {"headroom", "quota_nearly_used"}  # shown as live bars instead


def _quota_bars(user) -> list[dict[str, Any]]:
    usage = quota_services.usage(user=user)
    bars = []
    for dimension in quota_services.DIMENSIONS:
        row = usage["dimensions"][dimension.name]
        if row["limit"] is None:
            continue
        limit, used = Decimal(row["limit"]), Decimal(row["reserved"])
        percent = int(min(used / limit * 100, Decimal(100))) if limit else 100
        money = dimension.name == "usd"
        shown = (dollars(used), dollars(limit)) if money else (f"{used.normalize():f}", f"{limit.normalize():f}")
        bars.append(
            {
                "label": dimension.label,
                "used": shown[0],
                "limit": shown[1],
                "percent": percent,
                "level": "high" if percent >= 80 else "ok",
            }
        )
    return bars


def _line_items(estimate: dict) -> list[dict[str, str]]:
    rows = []
    for item in estimate.get("line_items") or []:
        per_unit = item.get("rate_unit", "").removeprefix("USD ")  # "USD per cluster-hour" -> "per cluster-hour"
        rows.append(
            {
                "description": item.get("description", ""),
                "quantity": f"{item.get('quantity', '')} {item.get('unit', '')}".strip(),
                "hours": item.get("hours", ""),
                "rate": f"{dollars(item.get('usd_rate'), places=4)} {per_unit}".strip(),
                "usd": dollars(item.get("usd")),
            }
        )
    return rows


def _verdict(request) -> list[str]:
    policy = policies.Policy.of_request(request)
    approvals = len(request.approvals or [])
    needed = request.required_approvals
    lines = [f"Needs {needed} approval{'s' if needed != 1 else ''} from different reviewers; {approvals} so far."]
    if request.status == RequestStatus.REQUESTED:
        if request.review_deadline:
            lines.append(f"Review by {timezone.localtime(request.review_deadline):%Y-%m-%d %H:%M %Z}, or it times out.")
        try:
            policies.check_approvable(request, now=timezone.now())
        except ApplicationError as exc:
            lines.append(f"Cannot be approved now: {exc}")
        refusals = policy.auto_approval_refusals(
            usd=policies.estimate_usd(request), request_type=request.request_type, required_approvals=needed
        )
        if refusals:
            lines.append(f"Manual review: {'; '.join(refusals)}.")
    else:
        lines.append(f"Status {request.get_status_display()}: not pending review.")
    return lines


def summary_card(request) -> dict[str, Any]:
    estimate = request.cost_estimate if isinstance(request.cost_estimate, dict) else {}
    remarks = [
        {"level": remark.get("level", "info"), "text": remark.get("message") or remark.get("text", "")}
        for remark in request.analysis_remarks or []
        if isinstance(remark, dict) and remark.get("code") not in QUOTA_REMARKS
    ]
    plan = request.plan if isinstance(request.plan, dict) else {}
    return {
        "plan_provider": plan.get("provider", ""),
        "plan": [
            resource.get("summary", "")
            for resource in plan.get("resources") or []
            if isinstance(resource, dict) and resource.get("summary")
        ],
        "total": dollars(estimate.get("usd")) if estimate else None,
        "hours": estimate.get("hours"),
        "line_items": _line_items(estimate),
        "quota_bars": _quota_bars(request.requested_by),
        "remarks": remarks,
        "verdict": _verdict(request),
        "drift": _drift(request),
    }


def _drift(request) -> dict[str, Any] | None:
    """What the reconcile job found missing of a deployed environment, and when."""
    drift = request.drift if isinstance(request.drift, dict) else None
    if not drift:
        return None
    return {"missing": [str(item) for item in drift.get("missing") or []], "found_at": drift.get("found_at", "")}
