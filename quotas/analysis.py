"""The request analysis: remarks for the reviewer (estimate, quota headroom, warnings).

Runs on submission for now; the workers' analyse job will call the same function.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from quotas.estimates import Estimate, Prices
from quotas.services import DIMENSIONS, EffectiveQuota, _display


def _remark(level: str, code: str, message: str) -> dict[str, str]:
    return {"level": level, "code": code, "message": message}


def analyse(
    *,
    estimate: Estimate,
    quota: EffectiveQuota,
    reserved_after: dict[str, int],
    parameters: dict,
    permanent: bool,
    max_lifetime_hours: int,
) -> list[dict[str, str]]:
    summary = estimate.as_dict()
    remarks = [
        _remark(
            "info",
            "estimate",
            f"Estimated ${summary['usd']} over {summary['hours']} h: {summary['machine_hours']} machine-hours, "
            f"{summary['disk_gb_hours']} disk GB-hours.",
        )
    ]
    remarks += [_remark("info", "estimate_note", note) for note in estimate.notes]
    if quota.source == "none":
        remarks.append(_remark("info", "no_quota", "No quota applies to the requester; nothing limits this request."))
    for dimension in DIMENSIONS:
        limit = quota.limits[dimension.ledger_field]
        if limit is None:
            continue
        used = reserved_after.get(dimension.ledger_field, 0)
        share = Decimal(used) / Decimal(limit) if limit else Decimal(1)
        message = (
            f"{dimension.label}: {_display(dimension, used)} of {_display(dimension, limit)} reserved with this "
            f"request ({share:.0%}); headroom {_display(dimension, max(limit - used, 0))}."
        )
        nearly = share >= Decimal(str(settings.QUOTA_WARNING_RATIO))
        remarks.append(_remark("warning" if nearly else "info", "quota_nearly_used" if nearly else "headroom", message))
    if permanent:
        remarks.append(
            _remark(
                "warning",
                "permanent",
                f"Permanent request: it never expires and is priced over {settings.PERMANENT_ESTIMATE_HOURS} h; "
                "only DevOps or admins may approve it.",
            )
        )
    elif estimate.hours >= Decimal(max_lifetime_hours) * Decimal("0.9"):
        remarks.append(
            _remark(
                "warning",
                "lifetime_near_maximum",
                f"Lifetime {estimate.hours.normalize():f} h is near the template's maximum of {max_lifetime_hours} h.",
            )
        )
    instance_type = parameters.get("instance_type")
    if instance_type:
        vcpus = Prices().vcpus(instance_type)
        if vcpus and vcpus >= settings.LARGE_INSTANCE_VCPUS:
            remarks.append(
                _remark("warning", "large_instance", f"{instance_type} has {vcpus} vCPUs; is that much needed?")
            )
    return remarks
