"""My environments: the user's provision requests with status, time left, spend so far and the
actions valid now; the table polls itself (htmx) while a row is being worked on."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from cloudassist.selectors import attach_related
from portal import presenters
from portal.views.common import page_number
from provisioning import selectors

PAGE_SIZE = 25


def _table_context(request) -> dict:
    page = page_number(request, page_size=PAGE_SIZE)
    start = (page - 1) * PAGE_SIZE
    queryset = selectors.request_list_for(request.user).filter(requested_by=request.user).order_by("-created_at", "-id")
    rows = attach_related(queryset[start : start + PAGE_SIZE + 1], "requested_by", known=[request.user])
    selectors.attach_snapshot_parts(rows)
    if page > 1 and not rows:
        raise Http404("No such page.")
    more = len(rows) > PAGE_SIZE
    rows = presenters.decorate(rows[:PAGE_SIZE], user=request.user)
    return {
        "requests": rows,
        "polling": presenters.any_working(rows),
        "page": page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if more else None,
        # Where the row's action forms come back to (the partial's own URL is never a page).
        "next": reverse("portal:environments") + (f"?page={page}" if page > 1 else ""),
    }


@login_required
@require_GET
def environments(request):
    return render(request, "portal/environments.html", _table_context(request))


@login_required
@require_GET
def environments_table(request):
    """The table alone: what the page's htmx polling swaps in every 2 s while something is working."""
    return render(request, "portal/_environments_table.html", _table_context(request))
