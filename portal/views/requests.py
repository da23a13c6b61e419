"""A request's page (parameters, estimate, timeline, extension, approvals) and what can be done
to it from the portal: the moves valid now, the one extension, downloading its secret."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cloudassist.exceptions import ApplicationError
from cloudassist.selectors import attach_related
from portal import presenters
from portal.views.common import attempt, back, next_url, visible_request
from provisioning import selectors, services, wording
from provisioning.models import MAX_EXTENSION_HOURS, MIN_EXTENSION_HOURS

DOWNLOADS = {"kubeconfig": ("application/yaml", "yaml"), "credentials": ("text/plain", "txt")}


@login_required
@require_GET
def request_page(request, pk: str):
    provision_request = visible_request(request.user, pk)
    attach_related([provision_request], "requested_by", known=[request.user])
    presenters.decorate([provision_request], user=request.user)
    extensions = list(selectors.extensions_for(request.user).filter(provision_request=provision_request))
    return render(
        request,
        "portal/request.html",
        {
            "r": provision_request,
            "estimate": presenters.estimate_summary(provision_request.cost_estimate),
            "parameters": presenters.parameter_rows(provision_request),
            "approvals": presenters.approval_rows(provision_request),
            "extension_text": presenters.extension_text(provision_request),
            "plan": presenters.plan_summary(provision_request.plan, status=provision_request.status),
            "events": list(selectors.events_for(request=provision_request)),
            "extensions": extensions,
            "polling": provision_request.working,
            "min_hours": MIN_EXTENSION_HOURS,
            "max_hours": MAX_EXTENSION_HOURS,
            "next": reverse("portal:request", args=[provision_request.pk]),
        },
    )


@login_required
@require_POST
def request_action(request, pk: str, action: str):
    """Retry, purge or revoke: the service decides whether it is allowed now. A destructive move
    (purge, revoke) posted without ``confirmed=yes`` answers its confirmation page instead: what
    it deletes and what that costs. The message after it says the status it left behind."""
    provision_request = visible_request(request.user, pk)
    button = presenters.BUTTONS_BY_SLUG.get(action)
    if button is None:
        raise Http404("No such action.")
    note = request.POST.get("note", "")[:5000]
    if button.confirm and request.POST.get("confirmed") != "yes":
        return render(
            request,
            "portal/confirm.html",
            {
                "r": provision_request,
                "button": button,
                "consequence": wording.consequence(provision_request, button.move),
                "plan": presenters.plan_summary(provision_request.plan, status=provision_request.status),
                "next": next_url(request, reverse("portal:request", args=[provision_request.pk])),
            },
        )
    attempt(
        request,
        lambda: button.service(actor=request.user, request=provision_request, note=note),
        success=lambda: wording.status_after(provision_request),
    )
    return back(request, reverse("portal:request", args=[provision_request.pk]))


@login_required
@require_POST
def request_extension(request, pk: str):
    """Ask for the one extension: hours and a reason."""
    provision_request = visible_request(request.user, pk)
    reason = request.POST.get("reason", "").strip()[:5000]

    def ask():
        try:
            hours = int(request.POST.get("extend_by_hours", ""))
        except ValueError:
            raise ValidationError("Give the extension in whole hours.") from None
        if not reason:
            raise ValidationError("Say why you need more time.")
        services.request_extension(actor=request.user, request=provision_request, extend_by_hours=hours, reason=reason)

    attempt(request, ask, success="Extension requested: DevOps will review it.")
    return back(request, reverse("portal:request", args=[provision_request.pk]))


@login_required
@require_GET
def download_secret(request, pk: str, kind: str):
    """The kubeconfig or credentials, decrypted by read_secret (which audits the download)."""
    provision_request = visible_request(request.user, pk)
    if kind not in DOWNLOADS:
        raise Http404("No such download.")
    content_type, suffix = DOWNLOADS[kind]
    try:
        text = services.read_secret(actor=request.user, request=provision_request, kind=kind)
    except ApplicationError as exc:  # NotFound: no secret (yet), or the other kind
        messages.error(request, str(exc))
        return redirect("portal:request", provision_request.pk)
    response = HttpResponse(text, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{kind}-{provision_request.pk}.{suffix}"'
    response["Cache-Control"] = "no-store"
    return response
