"""ConfigAdmin: the entry list, the add and change pages, who may do what. The pages that write
are configs/admin/views.py."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join

from cloudassist import roles
from configs import services
from configs.admin.display import is_expired, pretty_json
from configs.admin.filters import ExpiryFilter, HasSchemaFilter
from configs.admin.forms import ConfigForm
from configs.admin.history import ConfigVersionInline
from configs.admin.views import ConfigWriteViews
from configs.models import Config


@admin.register(Config)
class ConfigAdmin(ConfigWriteViews, admin.ModelAdmin):
    form = ConfigForm
    inlines = [ConfigVersionInline]
    list_display = [
        "name",
        "version",
        "owner",
        "labels_display",
        "expires_at",
        "updated_at",
        "updated_by",
    ]
    list_filter = [("owner", admin.RelatedOnlyFieldListFilter), HasSchemaFilter, ExpiryFilter]
    list_select_related = ["owner", "updated_by"]
    search_fields = ["name"]
    search_help_text = "Search by name."
    actions = ["delete_selected"]  # ConfigWriteViews.delete_selected, in place of Django's

    # --- who may do what -----------------------------------------------------------------------

    def has_change_permission(self, request, obj=None):
        # An expired entry is gone for the services (the purge sweep deletes it): view only.
        return super().has_change_permission(request, obj) and not (obj is not None and is_expired(obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and is_expired(obj))

    def has_rollback_permission(self, request, obj=None) -> bool:
        return self.has_change_permission(request, obj) and roles.is_admin(request.user)

    # --- the pages -------------------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["name", "data", "schema", "labels"]}),
                ("Access", {"fields": ["read_roles", "write_roles"]}),
                ("Expiry", {"fields": ["ttl"]}),
            ]
        editable = self.has_change_permission(request, obj)
        content = ["data", "schema", "labels"] if editable else ["data_display", "schema_display", "labels_display"]
        return [
            (None, {"fields": ["name", "version", *(["loaded_version"] if editable else []), *content]}),
            ("Access", {"fields": ["owner", "read_roles", "write_roles"]}),
            ("Expiry", {"fields": ["expires_at", *(["ttl"] if editable else [])]}),
            ("Changes", {"fields": ["created_at", "updated_at", "updated_by"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        shown = ["data_display", "schema_display", "labels_display"]
        return ["name", "version", "owner", "expires_at", "created_at", "updated_at", "updated_by", *shown]

    def get_queryset(self, request):
        # What the API hides from someone, the admin hides too (lists, pages, filters, actions).
        return services.visible(request.user, super().get_queryset(request)).select_related("owner", "updated_by")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_inline_instances(self, request, obj=None):
        instances = super().get_inline_instances(request, obj)
        for inline in instances:
            if isinstance(inline, ConfigVersionInline):
                inline.may_roll_back = obj is not None and self.has_rollback_permission(request, obj)
        return instances

    # --- columns and read-only fields ----------------------------------------------------------

    @admin.display(description="labels")
    def labels_display(self, obj: Config):
        if not isinstance(obj.labels, dict) or not obj.labels:
            return "-"
        return format_html_join(", ", "{}={}", sorted(obj.labels.items()))

    @admin.display(description="data")
    def data_display(self, obj: Config):
        return pretty_json(obj.data)

    @admin.display(description="schema")
    def schema_display(self, obj: Config):
        return pretty_json(obj.schema) if obj.schema else "-"
