"""The audit trail: on its own (read-only), and as inlines on the requests' pages."""

from __future__ import annotations

from django.contrib import admin

from cloudassist.admin import IndexedChangeListMixin, pretty_json
from provisioning.admin.base import ReadOnlyConsoleMixin, change_link
from provisioning.models import Event


class EventDataMixin:
    @admin.display(description="data")
    def data_display(self, obj):
        return pretty_json(obj.data, empty="-")


class EventInline(EventDataMixin, ReadOnlyConsoleMixin, admin.TabularInline):
    model = Event
    fk_name = "provision_request"
    verbose_name = "audit event"
    verbose_name_plural = "audit events"
    fields = ["created_at", "actor_name", "action", "from_status", "to_status", "note", "data_display", "extension"]
    readonly_fields = fields
    ordering = ["created_at", "pk"]
    extra = 0
    can_delete = False

    @admin.display(description="about extension")
    def extension(self, obj):
        return change_link("provisioning.extensionrequest", obj.extension_request_id)


class ExtensionEventInline(EventInline):
    fk_name = "extension_request"
    fields = [name for name in EventInline.fields if name != "extension"]
    readonly_fields = fields


@admin.register(Event)
class EventAdmin(EventDataMixin, IndexedChangeListMixin, ReadOnlyConsoleMixin, admin.ModelAdmin):
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
        return change_link("provisioning.provisionrequest", obj.provision_request_id)

    @admin.display(description="extension request")
    def extension_link(self, obj):
        return change_link("provisioning.extensionrequest", obj.extension_request_id)
