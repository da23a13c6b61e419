"""Extension requests: the review admin, and the inline on a provision request's page."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin

from cloudassist.admin import (
    CONSOLE_CSS,
    IndexedChangeListMixin,
    RelatedValuesFilter,
    clipped,
    search_by_username,
    short_id,
)
from cloudassist.selectors import attach_related
from provisioning import services
from provisioning.admin.base import ReadOnlyConsoleMixin, admin_link, age_of
from provisioning.admin.events import ExtensionEventInline
from provisioning.admin.filters import AgeFilter, ExtensionStatusFilter, ExtensionTemplateFilter
from provisioning.admin.review import ReviewActionsMixin
from provisioning.choices import ExtensionStatus
from provisioning.models import ExtensionRequest, ProvisionRequest


class ExtensionInline(ReadOnlyConsoleMixin, admin.TabularInline):
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


@admin.register(ExtensionRequest)
class ExtensionRequestAdmin(IndexedChangeListMixin, ReviewActionsMixin, ReadOnlyConsoleMixin, admin.ModelAdmin):
    review_services: ClassVar[dict[str, Any]] = {
        "approve": services.approve_extension,
        "reject": services.reject_extension,
    }
    subject_argument = "extension"
    pending_status = ExtensionStatus.REQUESTED
    change_form_template = "admin/provisioning/review_change_form.html"

    # Fits 1440 px: short ids (whole on hover), the request by its description, dates without seconds.
    list_display = ["extension_id", "environment", "requested_by", "extend_by", "status", "current_expiry", "age"]
    list_display_links = ["extension_id"]
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

    class Media:
        css = CONSOLE_CSS

    @admin.display(description="id", ordering="pk")
    def extension_id(self, obj):
        return short_id(obj.pk)

    @admin.display(description="provision request")
    def environment(self, obj):
        parent = obj.provision_request
        return admin_link(parent, clipped(parent.description or parent.template_id))

    @admin.display(description="extend by", ordering="extend_by_hours")
    def extend_by(self, obj):
        return f"+{obj.extend_by_hours} h"

    @admin.display(description="expires (now)", ordering="provision_request__expires_at")
    def current_expiry(self, obj):
        expires = obj.provision_request.expires_at
        return expires.strftime("%Y-%m-%d %H:%M") if expires else "never"

    @admin.display(description="provision request status")
    def environment_status(self, obj):
        return obj.provision_request.get_status_display()

    @admin.display(description="extension slot")
    def extension_slot(self, obj):
        return obj.provision_request.get_extension_slot_display()

    @admin.display(description="age", ordering="created_at")
    def age(self, obj):
        return age_of(obj.created_at)
