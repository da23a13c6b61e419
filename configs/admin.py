"""The config server in the Django admin: entries with their history, and rollback.

Every write goes through configs.services, like the API: the add form calls ``create``, the
change form ``replace`` with the version the form was loaded at as If-Match (so a concurrent
edit is a form error, never a silent overwrite), deleting calls ``delete`` and the rollback page
``rollback``. Nothing here writes a version itself.

Only the write can tell whether it succeeds (its compare-and-set, the schema, the size limit,
who may write), so the service call is the last step of the form's validation and its errors
become form errors; the admin then only logs and redirects.

DevOps view entries and their history; admins add, change, delete and roll back.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.contrib.admin.utils import unquote
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.forms.fields import InvalidJSONInput
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from cloudassist import roles
from cloudassist.admin import refusal
from cloudassist.exceptions import ApplicationError, Conflict, NotFound
from configs import services
from configs.models import Config, ConfigVersion

HISTORY_ROWS = 50  # the newest versions shown on the change page; older ones stay reachable by URL
MAX_TTL = 100 * 366 * 24 * 3600  # a century: larger ones overflow the expiry date
TTL_HELP_ADD = "Seconds from now until the entry is gone (session data). Empty or 0: never."
TTL_HELP_CHANGE = "Seconds from now until the entry is gone. Empty: keep the current expiry; 0: never expires."


# ---------------------------------------------------------------------------------------------
# Display helpers


def pretty_json(value: Any) -> str:
    """JSON in a <pre>, escaped (the data is user input)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return format_html('<pre style="margin: 0; white-space: pre-wrap;">{}</pre>', text)


def is_expired(config: Config) -> bool:
    return config.expires_at is not None and config.expires_at <= timezone.now()


def changed_meanwhile(current: int) -> str:
    return f"This entry changed meanwhile: now at version {current}. Nothing was saved; reload the page and redo it."


# ---------------------------------------------------------------------------------------------
# List filters


class HasSchemaFilter(admin.SimpleListFilter):
    title = "schema"
    parameter_name = "has_schema"

    def lookups(self, request, model_admin):
        return [("yes", "With a schema"), ("no", "Without a schema")]

    def queryset(self, request, queryset):
        without = Q(schema__isnull=True) | Q(schema={})
        if self.value() == "yes":
            return queryset.exclude(without)
        if self.value() == "no":
            return queryset.filter(without)
        return queryset


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [("live", "Not expired"), ("expired", "Expired (awaiting purge)"), ("ttl", "With a TTL, not expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "live":
            return queryset.filter(Q(expires_at=None) | Q(expires_at__gt=now))
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        if self.value() == "ttl":
            return queryset.filter(expires_at__gt=now)
        return queryset


# ---------------------------------------------------------------------------------------------
# The form: its last validation step is the service call


class PrettyJSONField(forms.JSONField):
    """A JSON textarea, indented; ``blank_is_none`` shows None as an empty box instead of ``null``."""

    def __init__(self, *, blank_is_none: bool = False, rows: int = 12, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget",
            forms.Textarea(attrs={"rows": rows, "cols": 90, "class": "vLargeTextField", "spellcheck": "false"}),
        )
        super().__init__(**kwargs)
        self.blank_is_none = blank_is_none

    def prepare_value(self, value):
        if isinstance(value, InvalidJSONInput):
            return value
        if value is None and self.blank_is_none:
            return ""
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)

    def to_python(self, value):
        value = super().to_python(value)
        return str(value) if isinstance(value, str) else value  # a plain str, not forms' JSONString


class ConfigForm(forms.ModelForm):
    data = PrettyJSONField(help_text="Any JSON value; empty means null.", rows=16)
    schema = PrettyJSONField(
        blank_is_none=True, rows=8, help_text="Optional JSON Schema (draft 2020-12) the data must satisfy."
    )
    labels = PrettyJSONField(rows=3, help_text='String labels, e.g. {"env": "prod"}.')
    read_roles = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="Roles that may read it (writers may too)."
    )
    write_roles = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="Roles that may change it."
    )
    ttl = forms.IntegerField(
        label="TTL (seconds)",
        required=False,
        min_value=0,
        max_value=MAX_TTL,
        help_text=TTL_HELP_ADD,
    )
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    actor = None  # the user writing; set by ConfigAdmin.get_form

    class Meta:
        model = Config
        fields = ["name", "data", "schema", "labels", "read_roles", "write_roles"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = set(self.instance.read_roles or []) | set(self.instance.write_roles or [])
        names = sorted(set(Group.objects.values_list("name", flat=True)) | current)
        for field in ("read_roles", "write_roles"):
            if field in self.fields:
                self.fields[field].choices = [(name, name) for name in names]
        if self.instance.pk is not None:
            # The version the user sees; posted back as If-Match.
            self.initial["loaded_version"] = self.instance.version
            self.fields["ttl"].help_text = TTL_HELP_CHANGE

    def clean_loaded_version(self):
        version = self.cleaned_data.get("loaded_version")
        if self.instance.pk is not None and version is None:
            raise ValidationError("The form lost the version it was loaded at; reload the page.")
        return version

    def _post_clean(self):
        # The model's own checks (unique name, ...) are the service's job; it runs once, and writes.
        if self.errors:
            return
        try:
            self.instance = self._write()
        except ValidationError as exc:
            self._add_service_errors(exc)
        except services.PreconditionFailed as exc:
            self.add_error(None, changed_meanwhile(exc.extra["current_version"]))
        except services.SchemaViolation as exc:
            self.add_error(
                "data",
                [f"Does not match the schema at {error['path']}: {error['message']}" for error in exc.extra["errors"]],
            )
        except services.TooLarge as exc:
            self.add_error("data", str(exc))
        except Conflict:
            self.add_error("name", "An entry with this name already exists.")
        except NotFound:
            self.add_error(None, "This entry no longer exists (deleted or expired meanwhile). Nothing was saved.")
        except (ApplicationError, PermissionDenied) as exc:  # may not write, or may not change the access lists
            self.add_error(None, refusal(exc)[1])

    def _add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for field, errors in exc.message_dict.items():
            self.add_error(field if field in self.fields else None, errors)

    def _write(self) -> Config:
        cleaned = self.cleaned_data
        metadata = {
            "schema": cleaned.get("schema"),
            "labels": {} if cleaned.get("labels") is None else cleaned["labels"],
            "read_roles": cleaned.get("read_roles", []),
            "write_roles": cleaned.get("write_roles", []),
        }
        ttl = cleaned.get("ttl")
        if self.instance.pk is None:
            return services.create(
                actor=self.actor, name=cleaned["name"], data=cleaned["data"], ttl=ttl or None, **metadata
            )
        if not set(self.changed_data) - {"loaded_version"}:
            return self.instance  # nothing edited: no new version
        if ttl is not None:
            metadata["ttl"] = ttl or None
        return services.replace(
            actor=self.actor,
            name=self.instance.name,
            data=cleaned["data"],
            if_match=cleaned["loaded_version"],
            **metadata,
        )

    def save(self, commit=True):
        # Written by the service during validation.
        self.save_m2m = lambda: None
        return self.instance


class RollbackForm(forms.Form):
    current_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


# ---------------------------------------------------------------------------------------------
# History


class HistoryFormSet(BaseInlineFormSet):
    """Display only: the newest versions; nothing is posted back, validated or saved."""

    def __init__(self, data=None, files=None, *args, **kwargs):
        super().__init__(None, None, *args, **kwargs)

    def get_queryset(self):
        if not hasattr(self, "_history"):
            self._history = super().get_queryset()[:HISTORY_ROWS]
        return self._history

    def is_valid(self):
        return True

    def save(self, commit=True):
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        return []


class ConfigVersionInline(admin.TabularInline):
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
    may_roll_back = False  # set per request by ConfigAdmin.get_inline_instances

    def get_fields(self, request, obj=None):
        return [*self.fields, "rollback"] if self.may_roll_back else list(self.fields)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author", "config")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="data")
    def data_display(self, obj: ConfigVersion):
        return pretty_json(obj.data)

    @admin.display(description="rollback")
    def rollback(self, obj: ConfigVersion):
        if obj.version == obj.config.version:
            return "current version"
        url = reverse("admin:configs_config_rollback", args=[obj.config_id, obj.version])
        return format_html('<a class="button rollback-link" href="{}">Roll back to version {}</a>', url, obj.version)


# ---------------------------------------------------------------------------------------------
# Entries


@admin.register(Config)
class ConfigAdmin(admin.ModelAdmin):
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
    rollback_template = "admin/configs/config/rollback_confirmation.html"

    # --- who may do what -----------------------------------------------------------------------

    def has_change_permission(self, request, obj=None):
        # An expired entry is gone for the services (the purge sweep deletes it): view only.
        return super().has_change_permission(request, obj) and not (obj is not None and is_expired(obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and is_expired(obj))

    def has_rollback_permission(self, request, obj=None) -> bool:
        return self.has_change_permission(request, obj) and roles.is_admin(request.user)

    # --- the form ------------------------------------------------------------------------------

    # Django wraps these views in django.db.transaction.atomic(), which does nothing on MongoDB but
    # marks an atomic block in which the services' own MongoDB transactions (run_atomic) refuse to run
    # their on-commit hooks. The services are the transactions here, so the views run without it.
    @csrf_protect_m
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._changeform_view(request, object_id, form_url, extra_context)

    @csrf_protect_m
    def delete_view(self, request, object_id, extra_context=None):
        return self._delete_view(request, object_id, extra_context)

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

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "updated_by")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_inline_instances(self, request, obj=None):
        instances = super().get_inline_instances(request, obj)
        for inline in instances:
            if isinstance(inline, ConfigVersionInline):
                inline.may_roll_back = obj is not None and self.has_rollback_permission(request, obj)
        return instances

    def save_model(self, request, obj, form, change):
        """The form's service call wrote it (see ConfigForm._post_clean)."""

    def save_formset(self, request, form, formset, change):
        formset.save()  # the history is display only: nothing to save

    # --- deleting through the service ----------------------------------------------------------

    def log_deletions(self, request, queryset):
        """Logged by ``_delete`` once the service has deleted the entry, not before."""

    def delete_model(self, request, obj):
        if not self._delete(request, obj):
            request._config_not_deleted = obj

    def delete_queryset(self, request, queryset):
        for config in queryset:
            self._delete(request, config)

    def _delete(self, request, config: Config) -> bool:
        try:
            services.delete(actor=request.user, name=config.name)
        except services.PreconditionFailed as exc:
            reason = f"it changed meanwhile (now at version {exc.extra['current_version']})"
        except NotFound:
            reason = "it no longer exists or has expired"
        except (ApplicationError, PermissionDenied) as exc:
            reason = refusal(exc)[1]
        else:
            super().log_deletions(request, [config])
            return True
        self.message_user(request, f"Could not delete “{config.name}”: {reason}.", messages.ERROR)
        return False

    def response_delete(self, request, obj_display, obj_id):
        failed = getattr(request, "_config_not_deleted", None)
        if failed is None:
            return super().response_delete(request, obj_display, obj_id)
        if Config.objects.filter(pk=failed.pk).exists():
            return HttpResponseRedirect(reverse("admin:configs_config_change", args=[failed.pk]))
        return HttpResponseRedirect(reverse("admin:configs_config_changelist"))

    # --- rollback ------------------------------------------------------------------------------

    def get_urls(self):
        rollback = path(
            "<path:object_id>/rollback/<int:version>/",
            self.admin_site.admin_view(self.rollback_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_rollback",
        )
        return [rollback, *super().get_urls()]

    def rollback_view(self, request, object_id, version):
        """A confirmation page (old and current data); POST calls services.rollback."""
        if not self.has_rollback_permission(request):
            raise PermissionDenied
        config = self.get_object(request, unquote(object_id))
        if config is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_rollback_permission(request, config):
            raise PermissionDenied
        old = config.versions.select_related("author").filter(version=version).first()
        if old is None:
            raise Http404(f"“{config.name}” has no version {version}.")
        change_url = reverse("admin:configs_config_change", args=[config.pk])
        form = RollbackForm(
            request.POST if request.method == "POST" else None, initial={"current_version": config.version}
        )
        if form.is_valid():
            self._roll_back(request, config, version, form.cleaned_data["current_version"])
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Roll back “{config.name}” to version {version}",
            "opts": self.opts,
            "original": config,
            "old": old,
            "old_data": json.dumps(old.data, indent=2, ensure_ascii=False, default=str),
            "current_data": json.dumps(config.data, indent=2, ensure_ascii=False, default=str),
            "same_data": old.data == config.data,
            "form": form,
            "change_url": change_url,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.rollback_template, context)

    def _roll_back(self, request, config: Config, version: int, if_match: int) -> None:
        try:
            new = services.rollback(actor=request.user, name=config.name, version=version, if_match=if_match)
        except services.PreconditionFailed as exc:
            current = exc.extra["current_version"]
            message = f"Not rolled back: “{config.name}” changed meanwhile: now at version {current}; reload and check."
        except services.SchemaViolation as exc:
            paths = ", ".join(error["path"] for error in exc.extra["errors"])
            message = f"Not rolled back: version {version} does not match the current schema at {paths}."
        except ValidationError as exc:
            message = f"Not rolled back: {' '.join(exc.messages)}"
        except NotFound:
            message = f"Not rolled back: “{config.name}” no longer exists or has expired."
        except (ApplicationError, PermissionDenied) as exc:
            message = f"Not rolled back: {refusal(exc)[1]}"
        else:
            self.log_change(request, new, f"Rolled back to version {version}.")
            done = f"Rolled back “{config.name}” to version {version}: it is now at version {new.version}."
            self.message_user(request, done, messages.SUCCESS)
            return
        self.message_user(request, message, messages.ERROR)

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
