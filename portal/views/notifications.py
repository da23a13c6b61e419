"""The user's notifications: newest first, each linking to its request's portal page; mark read."""

from __future__ import annotations

from bson import ObjectId
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from notifications import selectors, services
from portal.views.common import page_number

PAGE_SIZE = 30


@login_required
@require_GET
def notifications(request):
    rows = selectors.notifications_for(user=request.user)
    page = page_number(request, page_size=PAGE_SIZE)
    start = (page - 1) * PAGE_SIZE
    items = list(rows[start : start + PAGE_SIZE + 1])
    if page > 1 and not items:
        raise Http404("No such page.")
    return render(
        request,
        "portal/notifications.html",
        {
            "notifications": items[:PAGE_SIZE],
            "previous_page": page - 1 if page > 1 else None,
            "next_page": page + 1 if len(items) > PAGE_SIZE else None,
        },
    )


@login_required
@require_POST
def mark_read(request, pk: str):
    notification = None
    if ObjectId.is_valid(pk):
        notification = selectors.notifications_for(user=request.user).filter(pk=ObjectId(pk)).first()
    if notification is None:
        raise Http404("No such notification.")
    services.mark_read(user=request.user, notification=notification)
    return redirect("portal:notifications")


@login_required
@require_POST
def mark_all_read(request):
    count = services.mark_read(user=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("portal:notifications")
