"""Provision requests: the review admin (approve, reject, purge; retry a failed provisioning, mark a
failed purge cleaned up) with the request's whole record."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from cloudassist.admin import (
    CONSOLE_CSS,
    IndexedChangeListMixin,
    RelatedValuesFilter,
    dollars,
    pretty_json,
    search_by_username,
    short_id,
)
from cloudassist.selectors import attach_related
from provisioning import selectors, services, wording
from provisioning.admin.base import ReadOnlyConsoleMixin, age_of
from provisioning.admin.events import EventInline
from provisioning.admin.extensions import ExtensionInline
from provisioning.admin.filters import AgeFilter, RequestStatusFilter
from provisioning.admin.review import CLEANED_UP, PURGE, RETRY, ReviewActionsMixin
from provisioning.admin.summary import summary_card
from provisioning.choices import RequestStatus
from provisioning.models import ProvisionRequest
from templates import rendering


def folded_json(value, *, empty: str) -> str:
    """The raw JSON, folded away (the summary card above reads it for people)."""
    if value in (None, "", [], {}):
        return pretty_json(value, empty=empty)
    return format_html("<details><summary>Raw JSON</summary>{}</details>", pretty_json(value, sort_keys=False))


@admin.register(ProvisionRequest)
class ProvisionRequestAdmin(IndexedChangeListMixin, ReviewActionsMixin, ReadOnlyConsoleMixin, admin.ModelAdmin):
    review_services: ClassVar[dict[str, Any]] = {
        "approve": services.approve_request,
        "reject": services.reject_request,
        "purge": services.start_purge,
        "retry": services.retry_provisioning,
        "mark_cleaned_up": services.mark_cleaned_up,
    }
    subject_argument = "request"
    pending_status = RequestStatus.REQUESTED
    actions: ClassVar[list[str]] = [
        "approve_selected",
        "reject_selected",
        "purge_selected",
        "retry_selected",
        "mark_cleaned_up_selected",
    ]
    # The ways out of a failure, as buttons on the change page (besides purge, which retries a failed purge).
    recovery_buttons: ClassVar[dict[str, list[tuple[str, str]]]] = {
        RequestStatus.FAILED: [("retry_selected", "Retry provisioning"), ("purge_selected", "Purge")],
        RequestStatus.PURGE_FAILED: [
            ("purge_selected", "Retry purge"),
            ("mark_cleaned_up_selected", "Mark cleaned up"),
        ],
    }

    @admin.action(description="Purge selected environments now", permissions=["review"])
    def purge_selected(self, request, queryset):
        """Delete DEPLOYED, FAILED, EXPIRED or PURGE_FAILED environments (asks for a note first);
        for PURGE_FAILED this retries the purge."""
        return self._review(request, queryset, PURGE)

    @admin.action(description="Retry provisioning of selected failed requests", permissions=["review"])
    def retry_selected(self, request, queryset):
        """FAILED -> APPROVED and the provisioning job, which carries on from what exists."""
        return self._review(request, queryset, RETRY)

    @admin.action(description="Mark selected failed purges cleaned up (by hand)", permissions=["review"])
    def mark_cleaned_up_selected(self, request, queryset):
        """PURGE_FAILED -> PURGED after cleaning up by hand; asks for a note saying what was done."""
        return self._review(request, queryset, CLEANED_UP)

    def render_change_form(self, request, context, **kwargs):
        obj = kwargs.get("obj")
        if obj is not None:
            context["summary_card"] = summary_card(obj)
        if obj is not None and obj.status in self.recovery_buttons and self.has_review_permission(request):
            context["review_buttons"] = self.recovery_buttons[obj.status]
        return super().render_change_form(request, context, **kwargs)

    change_form_template = "admin/provisioning/review_change_form.html"

    # Fits 1440 px without scrolling: the description is cut short (in full on hover), the rest is narrow.
    list_display = ["short_id", "description_short", "template", "requested_by", "estimated_cost", "approval_progress"]
    list_display += ["status", "age"]
    list_display_links = ["short_id"]

    class Media:
        css = CONSOLE_CSS

    list_filter = [RequestStatusFilter, "template", ("requested_by", RelatedValuesFilter), AgeFilter]
    list_related_by_pk = ("requested_by", "template")
    list_deferred = selectors.LIST_DEFERRED
    search_fields = ["requested_by__username", "description"]  # searched without a join: get_search_results
    search_help_text = "Search by requester username or description."
    inlines = [ExtensionInline, EventInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "requested_by",
                    "template",
                    "template_version",
                    "request_type",
                    "status",
                    "failure_reason",
                    "expires_at",
                    "description",
                ]
            },
        ),
        ("Parameters", {"fields": ["parameters_display"]}),
        ("Rendered template", {"fields": ["rendered_template"]}),
        ("Estimate and analysis", {"fields": ["cost_estimate_display", "analysis_remarks_display"]}),
        ("Outputs", {"fields": ["outputs_display"]}),
        ("Review", {"fields": ["approvals_display", "reviewed_by", "review_note", "reviewed_at", "review_deadline"]}),
        ("Expiry", {"fields": ["purge_after"]}),
        ("Extension", {"fields": ["extension_slot"]}),
        ("Timestamps", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [field for _, options in self.fieldsets for field in options["fields"]]

    def get_search_results(self, request, queryset, search_term):
        found = search_by_username(queryset, search_term, fields=("requested_by",), text_fields=("description",))
        return found, False

    def get_object(self, request, object_id, from_field=None):
        found = super().get_object(request, object_id, from_field)
        return attach_related([found], "requested_by", "reviewed_by", "template")[0] if found is not None else None

    def review_label(self, obj) -> str:
        return f"provision request {obj.pk} ({obj.template_id} for {obj.requested_by})"

    def outcome(self, obj, decision) -> str:
        return wording.status_after(obj)  # "Approval 1 of 2 recorded; waiting for another reviewer."

    def item_detail(self, obj, decision) -> str:
        if decision is PURGE:
            return f"deletes {wording.deleted(obj)}"
        return ""

    def consequence(self, objects, decision) -> str:
        if len(objects) == 1:
            return wording.consequence(objects[0], decision.move or decision.verb)
        return wording.consequence(None, decision.move or decision.verb)

    @admin.display(description="age", ordering="created_at")
    def age(self, obj):
        return age_of(obj.created_at)

    @admin.display(description="id", ordering="pk")
    def short_id(self, obj):
        return short_id(obj.pk)

    @admin.display(description="description")
    def description_short(self, obj):
        text = obj.description or ""
        return format_html(
            '<span title="{}" style="display: inline-block; max-width: 24em; overflow: hidden; '
            'text-overflow: ellipsis; white-space: nowrap; vertical-align: bottom;">{}</span>',
            text,
            text or "-",
        )

    @admin.display(description="estimated cost")
    def estimated_cost(self, obj):
        estimate = obj.cost_estimate if isinstance(obj.cost_estimate, dict) else {}
        return dollars(estimate.get("usd"), empty="not estimated")

    @admin.display(description="approvals")
    def approval_progress(self, obj):
        return f"{len(obj.approvals or [])}/{obj.required_approvals}"

    @admin.display(description="approved by")
    def approvals_display(self, obj):
        names = ", ".join(entry.get("username", "?") for entry in obj.approvals or [])
        return f"{len(obj.approvals or [])} of {obj.required_approvals} approvals" + (f": {names}" if names else "")

    @admin.display(description="parameters")
    def parameters_display(self, obj):
        return pretty_json(obj.parameters)

    @admin.display(description="rendered template")
    def rendered_template(self, obj):
        snapshot = obj.template_snapshot if isinstance(obj.template_snapshot, dict) else {}
        try:
            rendered = rendering.render(
                body=snapshot.get("body") or "",
                schema=snapshot.get("parameters_schema") or {},
                parameters=obj.parameters,
            )
        except ValidationError as exc:
            reason = " ".join(exc.messages)
        except Exception as exc:  # a damaged snapshot must not break the page
            reason = f"{type(exc).__name__}: {exc}"
        else:
            return format_html('<pre style="margin: 0;">{}</pre>', rendered.document)
        return format_html('<span class="errornote">The template snapshot does not render: {}</span>', reason)

    @admin.display(description="cost estimate")
    def cost_estimate_display(self, obj):
        return folded_json(obj.cost_estimate, empty="Not estimated yet.")

    @admin.display(description="analysis remarks")
    def analysis_remarks_display(self, obj):
        return folded_json(obj.analysis_remarks, empty="Not analysed yet.")

    @admin.display(description="outputs")
    def outputs_display(self, obj):
        return pretty_json(obj.outputs, empty="None yet.")
