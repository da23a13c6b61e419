"""What the portal's views share: a request the user may see (else 404), and refusals as messages."""

from __future__ import annotations

from collections.abc import Callable

from bson import ObjectId
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from cloudassist.admin import refusal
from cloudassist.exceptions import ApplicationError
from provisioning import selectors


def visible_request(user, pk: str):
    """The provision request ``pk`` if ``user`` may see it (requests_for: their own, or all for
    reviewers); 404 otherwise, and for a malformed id."""
    if not ObjectId.is_valid(pk):
        raise Http404("No such request.")
    found = selectors.requests_for(user).filter(pk=ObjectId(pk)).first()
    if found is None:
        raise Http404("No such request.")
    return found


# MongoDB skips at most a signed 64-bit number of documents (a bigger one does not even encode).
MAX_OFFSET = 2**63 - 1


def page_number(request, *, page_size: int) -> int:
    """The page ``?page=`` asks for (1 without one); 404 for what is no page: not a whole number,
    below 1, or starting beyond any offset MongoDB can skip. A page past the last row is the
    view's 404 (it finds no rows)."""
    raw = request.GET.get("page", "")
    if raw == "":
        return 1
    try:
        page = int(raw)
    except ValueError:
        raise Http404("No such page.") from None
    if page < 1 or (page - 1) * page_size > MAX_OFFSET:
        raise Http404("No such page.")
    return page


def attempt(request, work: Callable[[], object], *, success: str | Callable[[], str]) -> bool:
    """Run ``work``; a domain error, a refusal or bad input becomes a message, never a 500. The
    success message is a text, or made after the work (to say the status it left behind)."""
    try:
        work()
    except (ApplicationError, PermissionDenied, ValidationError) as exc:
        level, text = refusal(exc)
        messages.add_message(request, level, text)
        return False
    messages.success(request, success() if callable(success) else success)
    return True


def next_url(request, fallback: str) -> str:
    """The page the form came from (``next``, same host only), else ``fallback``."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def back(request, fallback: str):
    """Redirect to the page the form came from (``next``, same host only), else ``fallback``."""
    return redirect(next_url(request, fallback))
