"""The version history on an entry's change page: the newest versions, display only, each with a
link to its rollback page for those who may roll back."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from cloudassist.admin import HISTORY_ROWS, HistoryFormSet, ReadOnlyAdminMixin
from configs.admin.display import pretty_json
from configs.models import ConfigVersion


class ConfigVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ConfigVersion
    formset = HistoryFormSet
    verbose_name = "version"
    verbose_name_plural = f"history (newest first, at most {HISTORY_ROWS} versions)"
    fields = ["version", "action", "author", "created_at", "data_display"]
    readonly_fields = [*fields, "rollback"]
    ordering = ["-version"]
    extra = 0
    can_delete = False
    show_change_link = False
    may_roll_back = False  # set on the instances of a request by ConfigAdmin.get_inline_instances

    def get_fields(self, request, obj=None):
        return [*self.fields, "rollback"] if self.may_roll_back else list(self.fields)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author", "config")

    @admin.display(description="data")
    def data_display(self, obj: ConfigVersion):
        return pretty_json(obj.data)

    @admin.display(description="rollback")
    def rollback(self, obj: ConfigVersion):
        if obj.version == obj.config.version:
            return "current version"
        url = reverse("admin:configs_config_rollback", args=[obj.config_id, obj.version])
        return format_html('<a class="button rollback-link" href="{}">Roll back to version {}</a>', url, obj.version)
