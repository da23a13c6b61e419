from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from cloudassist.admin import add_errors
from templates import rendering, selectors, services
from templates.models import POLICY_FIELDS, Template


class TemplateForm(forms.ModelForm):
    """Shows definition errors (schema, body, lifetimes) on the form instead of failing on save."""

    class Meta:
        model = Template
        fields = [
            "id",
            "name",
            "description",
            "resource_type",
            "provider",
            "is_active",
            "body",
            "parameters_schema",
            "default_lifetime_hours",
            "max_lifetime_hours",
            "auto_approve",
            "auto_approve_max_usd",
            *POLICY_FIELDS,
        ]

    def clean(self):
        cleaned = super().clean()
        current = self.instance
        try:
            rendering.check_definition(
                body=cleaned.get("body", current.body),
                parameters_schema=cleaned.get("parameters_schema", current.parameters_schema),
                default_lifetime_hours=cleaned.get("default_lifetime_hours", current.default_lifetime_hours),
                max_lifetime_hours=cleaned.get("max_lifetime_hours", current.max_lifetime_hours),
                max_total_lifetime_hours=cleaned.get("max_total_lifetime_hours", current.max_total_lifetime_hours),
            )
        except ValidationError as exc:
            add_errors(self, exc)
        return cleaned


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    form = TemplateForm
    list_display = ["id", "name", "resource_type", "provider", "version", "is_active", "availability", "updated_at"]
    list_filter = ["is_active", "resource_type", "provider"]
    search_fields = ["id", "name", "description"]
    readonly_fields = ["availability", "version", "created_by", "created_at", "updated_at"]
    actions = ["activate", "deactivate"]
    fieldsets = [
        (None, {"fields": ["id", "name", "description", "resource_type", "provider", "is_active", "availability"]}),
        ("Definition", {"fields": ["body", "parameters_schema"]}),
        ("Lifetime (hours)", {"fields": ["default_lifetime_hours", "max_lifetime_hours"]}),
        ("Auto-approval policy", {"fields": ["auto_approve", "auto_approve_max_usd"]}),
        ("Review, lease and purge policy", {"fields": list(POLICY_FIELDS)}),
        ("History", {"fields": ["version", "created_by", "created_at", "updated_at"]}),
    ]

    @admin.display(description="can be requested")
    def availability(self, obj):
        """ "Yes", or why not (its provider is not configured: the setting to set)."""
        if obj is None or not obj.pk:
            return "-"
        reason = selectors.unavailable_reason(obj)
        return f"No: {reason}" if reason else "Yes"

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "id"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            changed = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
            saved = services.update_template(template=Template.objects.get(pk=obj.pk), **changed)
        else:
            data = {name: value for name, value in form.cleaned_data.items() if name != "id"}
            saved = services.create_template(actor=request.user, id=form.cleaned_data["id"], **data)
        obj.version = saved.version

    def _set_active(self, request, queryset, *, active: bool) -> None:
        count = 0
        for template in queryset:
            services.set_active(template=template, active=active)
            count += 1
        self.message_user(request, f"{count} template(s) {'activated' if active else 'deactivated'}.")

    @admin.action(description="Activate selected templates")
    def activate(self, request, queryset):
        self._set_active(request, queryset, active=True)

    @admin.action(description="Deactivate selected templates")
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, active=False)
