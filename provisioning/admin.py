"""The DevOps approval console: provision and extension requests pending review, read-only.

Nothing is added, changed or deleted here. Approve and reject are admin actions (for one or
many, from the changelist or a change page) that ask for a note on an intermediate page and
then call the same services as the API; the services decide who may review and write the
status with its audit event. Only reviewers (DevOps and admins) get the actions; developers
are not staff and cannot reach the admin at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from bson import ObjectId
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince

from cloudassist import roles
from cloudassist.admin import IndexedChangeListMixin, RelatedValuesFilter, refusal, search_by_username
from cloudassist.exceptions import ApplicationError
from cloudassist.selectors import attach_related
from provisioning import services
from provisioning.choices import ExtensionStatus, RequestStatus
from provisioning.models import Event, ExtensionRequest, ProvisionRequest
from templates import rendering

# ---------------------------------------------------------------------------------------------
# Display helpers


def pretty_json(value: Any, *, empty: str = "") -> str:
    """JSON in a <pre>, escaped (parameters and remarks are user input)."""
    if empty and value in (None, "", [], {}):
        return format_html("<em>{}</em>", empty)
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre style="margin: 0; white-space: pre-wrap;">{}</pre>', text)


def admin_link(obj, text: str | None = None) -> str:
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else obj.pk)


def age_of(created_at) -> str:
    return timesince(created_at) if created_at else "-"


# ---------------------------------------------------------------------------------------------
# List filters


class DefaultStatusFilter(admin.SimpleListFilter):
    """Status, defaulting to the ones pending review; ``?status=all`` shows every status."""

    title = "status"
    parameter_name = "status"
    ALL = "all"
    default = "REQUESTED"
    status_choices: ClassVar[list[tuple[str, str]]] = []

    def lookups(self, request, model_admin):
        return [(self.ALL, "All"), *self.status_choices]

    def value(self):
        return super().value() or self.default

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.ALL:
            return queryset
        if value not in {choice for choice, _ in self.status_choices}:
            raise IncorrectLookupParameters(f"Unknown status {value!r}.")
        return queryset.filter(status=value)

    def choices(self, changelist):
        # No "no parameter" choice: without one the filter shows the default (pending review).
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class RequestStatusFilter(DefaultStatusFilter):
    default = RequestStatus.REQUESTED
    status_choices = RequestStatus.choices


class ExtensionStatusFilter(DefaultStatusFilter):
    default = ExtensionStatus.REQUESTED
    status_choices = ExtensionStatus.choices


class AgeFilter(admin.SimpleListFilter):
    """How long ago the request was made (``created_at``)."""

    title = "age"
    parameter_name = "age"
    WEEK = timedelta(days=7)
    RECENT: ClassVar[dict[str, tuple[str, timedelta]]] = {
        "hour": ("Last hour", timedelta(hours=1)),
        "day": ("Last 24 hours", timedelta(days=1)),
        "week": ("Last 7 days", WEEK),
    }
    OLDER = "older"

    def lookups(self, request, model_admin):
        return [*((key, label) for key, (label, _) in self.RECENT.items()), (self.OLDER, "Older than a week")]

    def queryset(self, request, queryset):
        value, now = self.value(), timezone.now()
        if value is None:
            return queryset
        if value in self.RECENT:
            return queryset.filter(created_at__gte=now - self.RECENT[value][1])
        if value == self.OLDER:
            return queryset.filter(created_at__lt=now - self.WEEK)
        raise IncorrectLookupParameters(f"Unknown age {value!r}.")


class ExtensionTemplateFilter(admin.SimpleListFilter):
    """Extensions by their provision request's template, without a join: the requests of that
    template among those that have extensions are found first, then their extensions."""

    title = "template"
    parameter_name = "provision_request__template__id__exact"  # the URL the related-field filter had

    def lookups(self, request, model_admin):
        from templates.models import Template

        return list(Template.objects.order_by("name", "id").values_list("pk", "name"))

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        extended = connection.get_collection(ExtensionRequest._meta.db_table).distinct("provision_request_id")
        ids = ProvisionRequest.objects.filter(pk__in=extended, template_id=self.value()).values_list("pk", flat=True)
        return queryset.filter(provision_request_id__in=list(ids))


# ---------------------------------------------------------------------------------------------
# Approve / reject: one implementation for both admins


@dataclass(frozen=True)
class Decision:
    verb: str  # "approve" or "reject": the key of the admin's review_services
    done: str
    note_required: bool


APPROVE = Decision(verb="approve", done="approved", note_required=False)
REJECT = Decision(verb="reject", done="rejected", note_required=True)
PURGE = Decision(verb="purge", done="started purging", note_required=False)


class ReviewNoteForm(forms.Form):
    note = forms.CharField(
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="Recorded in the audit trail and shown to the requester.",
    )

    def __init__(self, *args, note_required: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].required = note_required
        if note_required:
            self.fields["note"].error_messages["required"] = "Say why; the requester will read it."


class ReviewActionsMixin:
    """Approve/reject admin actions with an intermediate note page, calling the review services.

    Subclasses set ``review_services`` ({"approve": fn, "reject": fn}) and ``subject_argument``
    (the keyword the services take the object by). The services raise PermissionDenied (e.g.
    one's own request), a 409 (not pending review any more) or ValidationError; each failure is
    reported per object, nothing here writes a status.
    """

    review_services: ClassVar[dict[str, Any]] = {}
    subject_argument: ClassVar[str] = ""
    pending_status: ClassVar[str] = "REQUESTED"
    review_note_template = "admin/provisioning/review_note.html"
    actions: ClassVar[list[str]] = ["approve_selected", "reject_selected"]

    def has_review_permission(self, request) -> bool:
        return roles.is_reviewer(request.user)

    @admin.action(description="Approve selected %(verbose_name_plural)s", permissions=["review"])
    def approve_selected(self, request, queryset):
        return self._review(request, queryset, APPROVE)

    @admin.action(description="Reject selected %(verbose_name_plural)s", permissions=["review"])
    def reject_selected(self, request, queryset):
        return self._review(request, queryset, REJECT)

    def review_label(self, obj) -> str:
        return f"{self.opts.verbose_name} {obj.pk}"

    def response_action(self, request, queryset):
        # Django filters by the posted ids before calling the action; a malformed ObjectId would be a 500.
        malformed = [value for value in request.POST.getlist(ACTION_CHECKBOX_NAME) if not ObjectId.is_valid(value)]
        if malformed:
            self.message_user(request, f"Not a valid id: {', '.join(malformed)}. Nothing was done.", messages.ERROR)
            return None
        return super().response_action(request, queryset)

    def _selected_objects(self, request, queryset) -> tuple[list, int]:
        """The selected rows, looked up by id regardless of the changelist's filters (the default
        status filter would otherwise silently drop rows that changed status meanwhile)."""
        if request.POST.get("select_across") == "1":
            return list(queryset), 0
        ids = list(dict.fromkeys(request.POST.getlist(ACTION_CHECKBOX_NAME)))
        objects = list(self.get_queryset(request).filter(pk__in=[ObjectId(value) for value in ids]))
        return objects, len(ids) - len(objects)

    def _next_url(self, request) -> str | None:
        url = request.POST.get("next", "")
        if url and url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return url
        return None

    def _review(self, request, queryset, decision: Decision):
        objects, missing = self._selected_objects(request, queryset)
        if missing:
            message = f"{missing} selected item(s) no longer exist or are not visible to you."
            self.message_user(request, message, messages.WARNING)
        if not objects:
            return None
        form = ReviewNoteForm(request.POST if "apply" in request.POST else None, note_required=decision.note_required)
        if not form.is_valid():  # unbound (first step) or an empty note when one is required
            return self._note_page(request, objects, decision, form)
        note = form.cleaned_data["note"]
        service = self.review_services[decision.verb]
        done = 0
        for obj in objects:
            try:
                service(actor=request.user, note=note, **{self.subject_argument: obj})
            except (PermissionDenied, ValidationError, ApplicationError) as exc:  # e.g. not pending any more
                level, message = refusal(exc)
                self._report_failure(request, obj, decision, message, level)
            else:
                done += 1
        if done:
            noun = self.opts.verbose_name if done == 1 else self.opts.verbose_name_plural
            self.message_user(request, f"{decision.done.capitalize()} {done} {noun}.", messages.SUCCESS)
        next_url = self._next_url(request)
        return HttpResponseRedirect(next_url) if next_url else None

    def _report_failure(self, request, obj, decision: Decision, reason: str, level: int) -> None:
        self.message_user(request, f"Could not {decision.verb} {self.review_label(obj)}: {reason}", level)

    def _note_page(self, request, objects, decision: Decision, form: ReviewNoteForm):
        opts = self.opts
        context = {
            **self.admin_site.each_context(request),
            "title": f"{decision.verb.capitalize()} {opts.verbose_name_plural}",
            "opts": opts,
            "decision": decision,
            "action": f"{decision.verb}_selected",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "items": [(obj, admin_link(obj, self.review_label(obj))) for obj in objects],
            "form": form,
            "next": self._next_url(request) or "",
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.review_note_template, context)

    # Approve/reject buttons on the change page of an object pending review.
    def render_change_form(self, request, context, **kwargs):
        obj = kwargs.get("obj")
        if obj is not None and obj.status == self.pending_status and self.has_review_permission(request):
            context["review_buttons"] = [("approve_selected", "Approve"), ("reject_selected", "Reject")]
        return super().render_change_form(request, context, **kwargs)


class ReadOnlyAdminMixin:
    """Nothing is added, changed or deleted in the console; the change page is a view page."""

    show_facets = admin.ShowFacets.NEVER

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# ---------------------------------------------------------------------------------------------
# Inlines


class EventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Event
    fk_name = "provision_request"
    verbose_name = "audit event"
    verbose_name_plural = "audit events"
    fields = ["created_at", "actor_name", "action", "from_status", "to_status", "note", "data_display", "extension"]
    readonly_fields = fields
    ordering = ["created_at", "pk"]
    extra = 0
    can_delete = False

    @admin.display(description="data")
    def data_display(self, obj):
        return pretty_json(obj.data, empty="-")

    @admin.display(description="about extension")
    def extension(self, obj):
        if not obj.extension_request_id:
            return "-"
        url = reverse("admin:provisioning_extensionrequest_change", args=[obj.extension_request_id])
        return format_html('<a href="{}">{}</a>', url, obj.extension_request_id)


class ExtensionEventInline(EventInline):
    fk_name = "extension_request"
    fields = [name for name in EventInline.fields if name != "extension"]
    readonly_fields = fields


class ExtensionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ExtensionRequest
    fk_name = "provision_request"
    verbose_name = "extension request"
    fields = ["link", "requested_by", "extend_by_hours", "status", "reason", "reviewed_by", "review_note", "created_at"]
    readonly_fields = fields
    ordering = ["created_at", "pk"]
    extra = 0
    can_delete = False

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)

        class RelatedByPk(formset):  # the few rows of one request, their users loaded by pk (no $lookup)
            def get_queryset(self):
                if not hasattr(self, "_related_rows"):
                    self._related_rows = attach_related(super().get_queryset(), "requested_by", "reviewed_by")
                return self._related_rows

        return RelatedByPk

    @admin.display(description="extension request")
    def link(self, obj):
        return admin_link(obj)


# ---------------------------------------------------------------------------------------------
# Provision requests


@admin.register(ProvisionRequest)
class ProvisionRequestAdmin(IndexedChangeListMixin, ReviewActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    review_services: ClassVar[dict[str, Any]] = {
        "approve": services.approve_request,
        "reject": services.reject_request,
        "purge": services.start_purge,
    }
    subject_argument = "request"
    pending_status = RequestStatus.REQUESTED
    actions: ClassVar[list[str]] = ["approve_selected", "reject_selected", "purge_selected"]

    @admin.action(description="Purge selected environments now", permissions=["review"])
    def purge_selected(self, request, queryset):
        """Delete DEPLOYED, FAILED, EXPIRED or PURGE_FAILED environments (asks for a note first)."""
        return self._review(request, queryset, PURGE)

    change_form_template = "admin/provisioning/review_change_form.html"

    list_display = ["id", "template", "requested_by", "status", "request_type", "expires_at", "created_at", "age"]
    list_display_links = ["id"]
    list_filter = [RequestStatusFilter, "template", ("requested_by", RelatedValuesFilter), AgeFilter]
    list_related_by_pk = ("requested_by", "template")
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
                    "expires_at",
                    "description",
                ]
            },
        ),
        ("Parameters", {"fields": ["parameters_display"]}),
        ("Rendered template", {"fields": ["rendered_template"]}),
        ("Estimate and analysis", {"fields": ["cost_estimate_display", "analysis_remarks_display"]}),
        ("Outputs", {"fields": ["outputs_display"]}),
        ("Review", {"fields": ["reviewed_by", "review_note", "reviewed_at"]}),
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

    @admin.display(description="age", ordering="created_at")
    def age(self, obj):
        return age_of(obj.created_at)

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
        return pretty_json(obj.cost_estimate, empty="Not estimated yet.")

    @admin.display(description="analysis remarks")
    def analysis_remarks_display(self, obj):
        return pretty_json(obj.analysis_remarks, empty="Not analysed yet.")

    @admin.display(description="outputs")
    def outputs_display(self, obj):
        return pretty_json(obj.outputs, empty="None yet.")


# ---------------------------------------------------------------------------------------------
# Extension requests


@admin.register(ExtensionRequest)
class ExtensionRequestAdmin(IndexedChangeListMixin, ReviewActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    review_services: ClassVar[dict[str, Any]] = {
        "approve": services.approve_extension,
        "reject": services.reject_extension,
    }
    subject_argument = "extension"
    pending_status = ExtensionStatus.REQUESTED
    change_form_template = "admin/provisioning/review_change_form.html"

    list_display = [
        "id",
        "environment",
        "requested_by",
        "extend_by_hours",
        "status",
        "current_expiry",
        "created_at",
        "age",
    ]
    list_display_links = ["id"]
    list_filter = [
        ExtensionStatusFilter,
        ExtensionTemplateFilter,
        ("requested_by", RelatedValuesFilter),
        AgeFilter,
    ]
    list_related_by_pk = ("requested_by", "provision_request")
    search_fields = ["requested_by__username", "reason", "provision_request__description"]  # get_search_results
    search_help_text = "Search by requester username, reason or the provision request's description."
    inlines = [ExtensionEventInline]
    fieldsets = [
        (None, {"fields": ["provision_request", "requested_by", "reason", "extend_by_hours", "status"]}),
        ("Review", {"fields": ["reviewed_by", "review_note", "reviewed_at"]}),
        ("The environment now", {"fields": ["environment_status", "current_expiry", "extension_slot"]}),
        ("Timestamps", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [field for _, options in self.fieldsets for field in options["fields"]]

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == ExtensionTemplateFilter.parameter_name or super().lookup_allowed(lookup, value, request)

    def get_search_results(self, request, queryset, search_term):
        found = search_by_username(queryset, search_term, fields=("requested_by",), text_fields=("reason",))
        if search_term:
            described = ProvisionRequest.objects.filter(description__icontains=search_term).values_list("pk", flat=True)
            found = found | queryset.filter(provision_request_id__in=list(described[:1000]))
        return found, False

    def get_object(self, request, object_id, from_field=None):
        found = super().get_object(request, object_id, from_field)
        if found is None:
            return None
        return attach_related([found], "requested_by", "reviewed_by", "provision_request")[0]

    def review_label(self, obj) -> str:
        return (
            f"extension request {obj.pk} (+{obj.extend_by_hours}h of provision request "
            f"{obj.provision_request_id}, by {obj.requested_by})"
        )

    @admin.display(description="provision request")
    def environment(self, obj):
        parent = obj.provision_request
        return admin_link(parent, f"{parent.pk} ({parent.template_id})")

    @admin.display(description="expires at (now)", ordering="provision_request__expires_at")
    def current_expiry(self, obj):
        return obj.provision_request.expires_at or "never"

    @admin.display(description="provision request status")
    def environment_status(self, obj):
        return obj.provision_request.get_status_display()

    @admin.display(description="extension slot")
    def extension_slot(self, obj):
        return obj.provision_request.get_extension_slot_display()

    @admin.display(description="age", ordering="created_at")
    def age(self, obj):
        return age_of(obj.created_at)


# ---------------------------------------------------------------------------------------------
# The audit trail on its own (read-only)


@admin.register(Event)
class EventAdmin(IndexedChangeListMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "actor_name", "action", "from_status", "to_status", "request_link", "extension_link"]
    list_filter = ["action"]
    search_fields = ["actor_name", "note"]
    fields = [
        "created_at",
        "actor_name",
        "action",
        "from_status",
        "to_status",
        "request_link",
        "extension_link",
        "note",
        "data_display",
    ]
    readonly_fields = fields
    ordering = ["-created_at"]

    @admin.display(description="provision request")
    def request_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:provisioning_provisionrequest_change", args=[obj.provision_request_id]),
            obj.provision_request_id,
        )

    @admin.display(description="extension request")
    def extension_link(self, obj):
        if not obj.extension_request_id:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:provisioning_extensionrequest_change", args=[obj.extension_request_id]),
            obj.extension_request_id,
        )

    @admin.display(description="data")
    def data_display(self, obj):
        return pretty_json(obj.data, empty="-")
