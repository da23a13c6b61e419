"""Orphans: resources tagged managed-by: cloudassist that no live request owns, as the reconcile job
found them (provisioning/reconciliation.py), read-only, with a "purge now" action (after a
confirmation page) that calls the same service as the job."""

from __future__ import annotations

from typing import ClassVar

from bson import ObjectId
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.utils import timezone

import providers
from cloudassist import roles
from cloudassist.admin import IndexedChangeListMixin, dollars, pretty_json
from provisioning import reconciliation
from provisioning.admin.base import ReadOnlyConsoleMixin, change_link
from provisioning.models import Orphan, OrphanState


class ProviderFilter(admin.SimpleListFilter):
    """The registered plugins (no DISTINCT over the collection)."""

    title = "provider"
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return providers.choices()

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


@admin.register(Orphan)
class OrphanAdmin(IndexedChangeListMixin, ReadOnlyConsoleMixin, admin.ModelAdmin):
    list_display = ["provider", "kind", "name", "region", "request_link", "orphaned_for", "created"]
    list_display += ["hourly_cost", "state", "last_seen"]
    list_display_links = ["name"]
    list_filter = ["state", ProviderFilter]
    search_fields = ["name", "request_tag"]
    search_help_text = "Search by resource name or request tag."
    ordering = ["-first_seen"]
    actions: ClassVar[list[str]] = ["purge_selected"]
    purge_template = "admin/cloudassist/confirm.html"
    fields = [
        "provider",
        "kind",
        "name",
        "region",
        "request_link",
        "state",
        "orphaned_for",
        "first_seen",
        "last_seen",
        "created_at",
        "hourly_cost",
        "purged_at",
        "purged_by",
        "last_error",
        "detail_display",
    ]
    readonly_fields = fields

    def has_review_permission(self, request) -> bool:
        return roles.is_reviewer(request.user)

    @admin.display(description="request tag")
    def request_link(self, obj):
        if obj.request_tag and ObjectId.is_valid(obj.request_tag):
            return change_link("provisioning.provisionrequest", obj.request_tag)
        return obj.request_tag or "-"

    @admin.display(description="orphaned for", ordering="first_seen")
    def orphaned_for(self, obj):
        return reconciliation.age(obj.first_seen, timezone.now())

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return f"{reconciliation.age(obj.created_at, timezone.now())} ago" if obj.created_at else "-"

    @admin.display(description="estimated hourly cost", ordering="usd_per_hour")
    def hourly_cost(self, obj):
        return dollars(obj.usd_per_hour, places=4, empty="unknown")

    @admin.display(description="detail")
    def detail_display(self, obj):
        return pretty_json(obj.detail, empty="-")

    def _item(self, orphan) -> dict:
        tagged = f", tagged for request {orphan.request_tag}" if orphan.request_tag else ""
        cost = f"{dollars(orphan.usd_per_hour, places=4)} an hour" if orphan.usd_per_hour is not None else ""
        return {"pk": orphan.pk, "link": f"{orphan}{tagged}", "state": orphan.get_state_display(), "detail": cost}

    def response_action(self, request, queryset):
        malformed = [value for value in request.POST.getlist(ACTION_CHECKBOX_NAME) if not ObjectId.is_valid(value)]
        if malformed:
            self.message_user(request, f"Not a valid id: {', '.join(malformed)}. Nothing was done.", messages.ERROR)
            return None
        return super().response_action(request, queryset)

    @admin.action(description="Purge selected orphans now", permissions=["review"])
    def purge_selected(self, request, queryset):
        """Remove the selected orphans with their provider now (after a confirmation page); one
        tagged for a request that may own resources is never removed (the service checks again)."""
        orphans = list(queryset)
        if "apply" not in request.POST:
            context = {
                **self.admin_site.each_context(request),
                "title": "Purge orphans",
                "opts": self.opts,
                "verb": "purge",
                "danger": True,
                "action": "purge_selected",
                "items": [self._item(orphan) for orphan in orphans if orphan.state != OrphanState.GONE],
                "stale": [self._item(orphan) for orphan in orphans if orphan.state == OrphanState.GONE],
                "stale_heading": "No longer found, nothing to purge:",
                "consequence": (
                    "Purging deletes these resources from their cloud now, with whatever data is in them. "
                    "This cannot be undone; their cost stops with them."
                ),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "media": self.media,
            }
            request.current_app = self.admin_site.name
            return TemplateResponse(request, self.purge_template, context)
        removed = 0
        for orphan in orphans:
            removal = reconciliation.purge_orphan(orphan, actor=request.user)
            if removal.removed:
                removed += 1
            else:
                self.message_user(request, f"Could not purge {orphan}: {removal.reason}", messages.WARNING)
        if removed:
            self.message_user(request, f"Purged {removed} orphan{'s' if removed != 1 else ''}.", messages.SUCCESS)
        return None
