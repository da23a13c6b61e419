"""Templates in the admin: a definition editor (the body and a pretty-printed JSON Schema in large
monospace editors, checked on save, with a preview of the request form the schema draws), and the
version history with a diff against the current definition and rollback (templates.services)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

import providers
from cloudassist.admin import (
    CONSOLE_CSS,
    HISTORY_ROWS,
    DeletionConsequenceMixin,
    HistoryFormSet,
    ReadOnlyAdminMixin,
    ServiceTransactionsMixin,
    add_errors,
    refusal,
    side_by_side,
)
from cloudassist.exceptions import ApplicationError
from cloudassist.internals import django as django_internals
from templates import planning, rendering, selectors, services
from templates.models import POLICY_FIELDS, VERSIONED_POLICY_FIELDS, Template, TemplateVersion, policy_of

EDITOR = "font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; width: 100%; box-sizing: border-box;"


class PrettyJSONField(forms.JSONField):
    """A JSON field shown indented (the stored value is unchanged), so the schema's structure shows;
    JSON nested too deeply for Python's parser is a form error, not a RecursionError."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            raise ValidationError("The JSON is nested too deeply.", code="invalid") from None

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)  # shown again as typed, beside its error

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class TemplateForm(forms.ModelForm):
    """Shows definition errors (schema, body, lifetimes) on the form instead of failing on save."""

    parameters_schema = PrettyJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 28, "style": EDITOR, "spellcheck": "false", "class": "json-editor"}),
        help_text="JSON Schema (2020-12) of the parameters; checked against the meta-schema on save. "
        "The preview below shows the request form it draws.",
    )

    provider = forms.ChoiceField(
        choices=providers.choices, help_text="The plugin that plans, prices and applies the rendered body."
    )

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
        widgets = {"body": forms.Textarea(attrs={"rows": 24, "style": EDITOR, "spellcheck": "false"})}

    def clean_parameters_schema(self):
        value = self.cleaned_data.get("parameters_schema")
        return {} if value in (None, "") else value

    def clean(self):
        cleaned = super().clean()
        current = self.instance
        body = cleaned.get("body", current.body)
        schema = cleaned.get("parameters_schema", current.parameters_schema)
        try:
            services.check_definition(
                provider=cleaned.get("provider", current.provider),
                body=body,
                parameters_schema=schema,
                default_lifetime_hours=cleaned.get("default_lifetime_hours", current.default_lifetime_hours),
                max_lifetime_hours=cleaned.get("max_lifetime_hours", current.max_lifetime_hours),
                max_total_lifetime_hours=cleaned.get("max_total_lifetime_hours", current.max_total_lifetime_hours),
            )  # rendered with its defaults and examples, planned and priced: errors land on the form
        except ValidationError as exc:
            add_errors(self, exc)
        return cleaned


class TemplateVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TemplateVersion
    formset = HistoryFormSet
    verbose_name = "version"
    verbose_name_plural = f"history (newest first, at most {HISTORY_ROWS} versions)"
    fields = ["version", "action", "author", "created_at", "compare"]
    readonly_fields = fields
    ordering = ["-version"]
    extra = 0
    can_delete = False
    show_change_link = False

    @admin.display(description="diff and rollback")
    def compare(self, obj: TemplateVersion):
        if obj.version == obj.template.version:
            return "current version"
        url = reverse("admin:templates_template_version", args=[obj.template_id, obj.version])
        return format_html('<a class="button version-link" href="{}">Diff with current, roll back</a>', url)


@admin.register(Template)
class TemplateAdmin(DeletionConsequenceMixin, ServiceTransactionsMixin, admin.ModelAdmin):
    form = TemplateForm
    list_display = ["id", "name", "resource_type", "provider", "version", "is_active", "availability", "updated_at"]
    list_filter = ["is_active", "resource_type", "provider"]
    search_fields = ["id", "name", "description"]
    readonly_fields = [
        "availability",
        "form_preview",
        "default_plan",
        "version",
        "created_by",
        "created_at",
        "updated_at",
    ]
    actions = ["activate", "deactivate", "delete_selected"]
    inlines = [TemplateVersionInline]
    version_template = "admin/templates/template/version.html"

    class Media:
        css = CONSOLE_CSS

    fieldsets = [
        (None, {"fields": ["id", "name", "description", "resource_type", "provider", "is_active", "availability"]}),
        ("Definition", {"fields": ["body", "parameters_schema", "form_preview", "default_plan"]}),
        ("Lifetime (hours)", {"fields": ["default_lifetime_hours", "max_lifetime_hours"]}),
        ("Auto-approval policy", {"fields": ["auto_approve", "auto_approve_max_usd"]}),
        ("Review, lease and purge policy", {"fields": list(POLICY_FIELDS)}),
        ("History", {"fields": ["version", "created_by", "created_at", "updated_at"]}),
    ]

    def deletion_consequence(self, objects: list) -> str:
        names = ", ".join(f"“{template.pk}”" for template in objects)
        return (
            f"Deleting {names} takes it out of the catalog and deletes every version of its history: it cannot "
            "be rolled back. A template that requests were made from cannot be deleted; deactivate it instead, "
            "which hides it from developers and keeps its history."
        )

    def get_urls(self):
        version = path(
            "<path:object_id>/versions/<int:version>/",
            self.admin_site.admin_view(self.version_view),
            name="templates_template_version",
        )
        return [version, *super().get_urls()]

    @admin.display(description="can be requested")
    def availability(self, obj):
        """ "Yes", or why not (its provider is not configured: the setting to set)."""
        if obj is None or not obj.pk:
            return "-"
        reason = selectors.unavailable_reason(obj)
        return f"No: {reason}" if reason else "Yes"

    @admin.display(description="request form preview")
    def form_preview(self, obj):
        """The fields a request form draws from the saved schema (disabled: a preview)."""
        fields = rendering.form_fields(obj.parameters_schema if obj is not None else {})
        if not fields:
            return format_html("<em>{}</em>", "The schema has no parameters: the form asks for none.")
        return format_html(
            '<table class="form-preview"><thead><tr><th>Field</th><th>Input</th><th>Help</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}{}</td><td>{}</td><td>{}</td></tr>", _preview_rows(fields)),
        )

    @admin.display(description="plan and estimate of the default render")
    def default_plan(self, obj):
        """What the saved template creates and costs rendered with its defaults (and examples) for
        its default lifetime, as its plugin plans and prices it; the errors in words otherwise."""
        if obj is None or not obj.pk:
            return format_html("<em>{}</em>", "Shown once the template is saved.")
        try:
            planned, estimate = planning.check_template(
                provider=obj.provider,
                body=obj.body,
                schema=obj.parameters_schema,
                lifetime_hours=obj.default_lifetime_hours,
            )
        except ValidationError as exc:
            return format_html(
                '<div class="plan-errors"><p><strong>{}</strong></p><ul class="errorlist">{}</ul></div>',
                "It cannot be planned with its default parameters:",
                format_html_join("", "<li>{}</li>", ((line,) for line in _error_lines(exc))),
            )
        return format_html(
            '<div class="default-plan"><h3>{}</h3><ul class="plan">{}</ul><h3>{}</h3>{}</div>',
            f"What it creates ({planned.plan.provider})",
            format_html_join("", "<li>{}</li>", ((line,) for line in planned.plan.lines))
            or format_html("<li><em>{}</em></li>", "Nothing."),
            f"Estimate for {obj.default_lifetime_hours} hours (the default lifetime)",
            _estimate_table(estimate.as_dict()),
        )

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "id"] if obj else self.readonly_fields

    def get_inlines(self, request, obj):
        # The history is display only: shown on the page, never part of a posted form.
        return self.inlines if obj is not None and request.method == "GET" else []

    def save_model(self, request, obj, form, change):
        if change:
            changed = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
            saved = services.update_template(template=Template.objects.get(pk=obj.pk), actor=request.user, **changed)
        else:
            data = {name: value for name, value in form.cleaned_data.items() if name != "id"}
            saved = services.create_template(actor=request.user, id=form.cleaned_data["id"], **data)
        obj.version = saved.version

    def save_related(self, request, form, formsets, change):
        form.save_m2m()  # the history inline is display only

    # --- a version: diff against the current definition, and rollback ------------------------------

    def version_view(self, request, object_id, version):
        template = self.get_object(request, unquote(object_id))
        if template is None:
            return django_internals.not_found_redirect(self, request, object_id)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        old = template.versions.filter(version=version).select_related("author").first()
        if old is None:
            raise Http404(f"“{template.pk}” has no version {version}.")
        change_url = reverse("admin:templates_template_change", args=[template.pk])
        may_roll_back = self.has_change_permission(request, template)
        if request.method == "POST":
            if not may_roll_back:
                raise PermissionDenied
            seen = request.POST.get("current_version", "")
            try:
                written = services.roll_back(
                    template=template,
                    version=version,
                    actor=request.user,
                    if_version=int(seen) if seen.isdigit() else None,
                )
            except (ValidationError, ApplicationError) as exc:
                level, message = refusal(exc)
                self.message_user(request, message, level)
            else:
                self.log_change(request, written, f"Rolled back to version {version}.")
                self.message_user(
                    request, f"Rolled back to version {version}: now version {written.version}.", messages.SUCCESS
                )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"“{template.name}”: version {version} against the current version {template.version}",
            "opts": self.opts,
            "original": template,
            "old": old,
            "body_diff": _diff(old.body, template.body, version, template.version),
            "schema_diff": _diff(
                _indented(old.parameters_schema), _indented(template.parameters_schema), version, template.version
            ),
            "policy_rows": _policy_rows(old, template),
            "same": services.same_definition(old, template),
            "may_roll_back": may_roll_back,
            "change_url": change_url,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.version_template, context)

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


def _policy_rows(old: TemplateVersion, template: Template) -> list[dict]:
    """Each policy field as version ``old`` had it and as it is now, the differing ones marked
    (a version from before policies were kept shows "not recorded")."""
    current = policy_of(template)
    rows = []
    for name in VERSIONED_POLICY_FIELDS:
        recorded = old.policy is not None and name in old.policy
        then = old.policy[name] if recorded else None
        rows.append(
            {
                "name": name,
                "label": Template._meta.get_field(name).verbose_name,
                "old": _policy_value(then) if recorded else "not recorded",
                "current": _policy_value(current[name]),
                "changed": recorded and then != current[name],
            }
        )
    return rows


def _policy_value(value) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _error_lines(exc: ValidationError) -> list[str]:
    """Each error with the path it names (``body.managedNodeGroups[0].ami: not supported``)."""
    if hasattr(exc, "error_dict"):
        return [f"{path}: {message}" for path, messages in exc.message_dict.items() for message in messages]
    return list(exc.messages)


def _estimate_table(estimate: dict) -> str:
    """An estimate's line items and total (``Estimate.as_dict()``), and its notes."""
    rows = format_html_join(
        "",
        '<tr><td>{}</td><td>{} {}</td><td>{} {}</td><td class="num">${}</td></tr>',
        (
            (item["description"], item["quantity"], item["unit"], item["usd_rate"], item["rate_unit"], item["usd"])
            for item in estimate["line_items"]
        ),
    )
    if not rows:
        rows = format_html('<tr><td colspan="4"><em>{}</em></td></tr>', "No line items.")
    return format_html(
        '<table class="estimate"><thead><tr><th scope="col">Item</th><th scope="col">Quantity</th>'
        '<th scope="col">Rate</th><th scope="col">Cost</th></tr></thead><tbody>{}</tbody>'
        '<tfoot><tr><th scope="row" colspan="3">Total for {} hours</th><td class="num total">${}</td></tr></tfoot>'
        "</table>{}",
        rows,
        estimate["hours"],
        estimate["usd"],
        format_html_join("", '<p class="help">{}</p>', ((note,) for note in estimate["notes"])),
    )


def _indented(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def _diff(old: str, new: str, old_version: int, new_version: int) -> str:
    """A side-by-side table (escaped), changed lines with three lines around them."""
    return side_by_side(
        old, new, old_label=f"Version {old_version}", new_label=f"Current (version {new_version})", context=3
    )


def _preview_rows(fields: list[dict]):
    for field in fields:
        required = format_html(' <strong title="{}">*</strong>', "required") if field["required"] else ""
        yield field["label"], required, _preview_input(field), field["help"] or "-"


def _preview_input(field: dict) -> str:
    default = field["default"]
    if field["widget"] == "select":
        options = format_html_join(
            "",
            "<option{}>{}</option>",
            ((" selected" if choice == default else "", choice) for choice in field["choices"]),
        )
        return format_html('<select name="{}" disabled>{}</select>', field["name"], options)
    if field["widget"] == "checkbox":
        return format_html('<input type="checkbox" name="{}" disabled{}>', field["name"], " checked" if default else "")
    if field["widget"] == "number":
        bounds = " ".join(
            f"{key}: {field[name]}"
            for key, name in (("min", "minimum"), ("max", "maximum"), ("step", "step"))
            if field[name] is not None
        )
        return format_html(
            '<input type="number" name="{}" value="{}" disabled> <span class="help">{}</span>',
            field["name"],
            "" if default is None else default,
            bounds,
        )
    return format_html(
        '<input type="text" name="{}" value="{}" disabled>{}',
        field["name"],
        "" if default is None else default,
        format_html(' <span class="help">pattern {}</span>', field["pattern"]) if field["pattern"] else "",
    )
