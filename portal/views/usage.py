"""Usage: the user's quota use as bars and this month's spend per request as an SVG chart."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from portal import presenters
from provisioning import bills
from quotas import services as quota_services


@login_required
@require_GET
def usage(request):
    report = quota_services.usage_report(user=request.user)
    now = timezone.now()
    month = now.strftime("%Y-%m")
    monthly = bills.monthly_bills(month=month, user=request.user)
    lines = monthly["bills"][0]["requests"] if monthly["bills"] else []
    names = presenters.request_names(request.user, [line["provision_request"] for line in lines]) if lines else {}
    return render(
        request,
        "portal/usage.html",
        {
            "report": report,
            "bars": presenters.quota_bars(report),
            "consumed": report["consumed_to_date"],
            "month": now.strftime("%B %Y"),
            "month_total": monthly["total_usd"],
            "chart": presenters.spend_chart(lines, names),
        },
    )
