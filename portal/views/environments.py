"""My environments: the user's provision requests (placeholder list; the full page follows)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from provisioning import selectors


@login_required
def environments(request):
    rows = selectors.requests_for(request.user).filter(requested_by=request.user).order_by("-created_at", "-id")[:50]
    return render(request, "portal/environments.html", {"requests": rows})
