"""The catalog, the request form drawn from a template's schema, and its live estimate."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cloudassist.exceptions import ApplicationError
from portal import catalog as catalog_entries
from portal import presenters
from portal.display import quota_preview
from portal.forms.request import RequestForm
from provisioning import services
from provisioning.choices import RequestType
from templates import selectors as template_selectors


def _template(template_id: str):
    return get_object_or_404(catalog_entries.active_templates(), pk=template_id)


@login_required
def catalog(request):
    return render(request, "portal/catalog.html", {"entries": catalog_entries.entries(user=request.user)})


@login_required
def request_new(request, template_id: str):
    template = _template(template_id)
    form = RequestForm(template, request.POST if request.method == "POST" else None)
    unavailable = catalog_entries.unavailable_text(template_selectors.unavailable_reason(template), user=request.user)
    if request.method == "POST" and unavailable:
        form.is_valid()  # its field errors too
        form.add_error(f"This template cannot be requested now: {unavailable}")
    elif request.method == "POST" and form.is_valid():
        try:
            created = services.submit_request(actor=request.user, **form.submission())
        except ValidationError as exc:
            form.add_error(exc)
        except ApplicationError as exc:  # over quota, provider not configured, ...
            form.add_error(exc.message)
        else:
            messages.success(request, f"Request {created.pk} submitted; it waits for review.")
            return redirect("portal:request", created.pk)
    status = 400 if form.has_errors else 200
    return render(
        request,
        "portal/request_new.html",
        {"template": template, "form": form, "unavailable": unavailable, "problems": presenters.form_problems(form)},
        status=status,
    )


@login_required
@require_POST
def request_estimate(request, template_id: str):
    """The htmx partial beside the form: what the request would create (the plan's resources), the
    line items and total, and what the quota would have left."""
    template = _template(template_id)
    form = RequestForm(template, request.POST)
    context = {"template": template, "form": form}
    result = None
    if form.is_valid():
        submission = form.submission()
        try:
            result = services.estimate_request(actor=request.user, **submission)
        except ValidationError as exc:
            form.add_error(exc)
            result = _provisional(request, template, form, submission)
        except ApplicationError as exc:
            form.add_error(exc.message)
    context["problems"] = presenters.form_problems(form)
    if result is not None:
        context["plan"] = presenters.plan_summary(result.get("plan"))
        context["estimate"] = result["estimate"]
        context["quota"] = quota_preview(result["quota"], estimate=result["estimate"])
    return render(request, "portal/_estimate.html", context)


def _provisional(request, template, form, submission):
    """The price of what is filled in so far, while some fields still need fixing."""
    hours = form.details.cleaned_data.get("lifetime_hours") or template.default_lifetime_hours
    if submission["request_type"] != RequestType.TEMPORARY:
        hours = settings.PERMANENT_ESTIMATE_HOURS
    try:
        return catalog_entries.provisional_estimate(
            actor=request.user, template=template, parameters=submission["parameters"], hours=hours
        )
    except ValidationError:
        return None
