"""The admin pages that write an entry, as explicit views: add and change (the entry form), delete,
roll back, and the bulk delete (the "delete selected" action). Each validates what was posted, makes one write
(configs/admin/writes.py, which calls configs.services), logs it and redirects; when the write is
refused, the page is shown again with the refusal on the form, or a message says why.

Django's own add, change and delete views wrap their POSTs in django.db.transaction.atomic(),
which does nothing on MongoDB but marks an atomic block in which the services' own MongoDB
transactions (run_atomic) refuse to run their on-commit hooks. The services are the transactions
here, so these views replace Django's for writes; Django still shows the delete confirmation.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import actions as django_actions
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR, csrf_protect_m
from django.contrib.admin.utils import flatten_fieldsets, model_ngettext, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cloudassist.admin import DeletionConsequenceMixin
from cloudassist.internals import django as django_internals
from configs.admin import writes
from configs.admin.display import indented
from configs.admin.forms import RollbackForm
from configs.models import Config


class ConfigWriteViews(DeletionConsequenceMixin):
    """For ConfigAdmin (a ModelAdmin with ``has_rollback_permission``): the views that write.
    Django's URLs lead to add_view, change_view and delete_view; get_urls adds the rollback page."""

    rollback_template = "admin/configs/config/rollback_confirmation.html"

    def get_urls(self):
        rollback = path(
            "<path:object_id>/rollback/<int:version>/",
            self.admin_site.admin_view(self.rollback_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_rollback",
        )
        return [rollback, *super().get_urls()]

    # --- adding and changing: the entry form -----------------------------------------------------

    @csrf_protect_m
    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        return self.entry_form_view(request, None, form_url=form_url, extra_context=extra_context)

    @csrf_protect_m
    def change_view(self, request, object_id, form_url="", extra_context=None):
        config = self.get_object(request, unquote(object_id))
        may = self.has_change_permission if request.method == "POST" else self.has_view_or_change_permission
        if not may(request, config):
            raise PermissionDenied
        if config is None:
            return django_internals.not_found_redirect(self, request, object_id)
        return self.entry_form_view(request, config, form_url=form_url, extra_context=extra_context)

    def entry_form_view(self, request, config: Config | None, *, form_url: str, extra_context: dict | None):
        """GET: the form. POST: validate, write through the service, log, redirect as Django does
        (save, continue, add another); refused: the form again, with why."""
        add = config is None
        fieldsets = self.get_fieldsets(request, config)
        form_class = self.get_form(request, config, change=not add, fields=flatten_fieldsets(fieldsets))
        if request.method != "POST":
            form = form_class(initial=self.get_changeform_initial_data(request)) if add else form_class(instance=config)
        else:
            form = form_class(request.POST, request.FILES, instance=config)
            written = writes.save(form, actor=request.user) if form.is_valid() else None
            if written is not None:
                message = self.construct_change_message(request, form, [], add)  # the history is not edited
                if add:
                    self.log_addition(request, written, message)
                    return self.response_add(request, written)
                self.log_change(request, written, message)
                return self.response_change(request, written)
        return self.render_entry_form(request, form, config, fieldsets, form_url=form_url, extra_context=extra_context)

    def render_entry_form(self, request, form, config: Config | None, fieldsets, *, form_url, extra_context):
        """The add or change page (view only without the change permission), with the history."""
        add = config is None
        editable = add or self.has_change_permission(request, config)
        readonly = self.get_readonly_fields(request, config) if editable else flatten_fieldsets(fieldsets)
        prepopulated = self.get_prepopulated_fields(request, config) if editable else {}
        admin_form = helpers.AdminForm(form, list(fieldsets), prepopulated, readonly, model_admin=self)
        formsets, inlines = [], []
        for formset_class, inline in self.get_formsets_with_inlines(request, *([] if add else [config])):
            prefix = formset_class.get_default_prefix()
            formsets.append(formset_class(**self.get_formset_kwargs(request, config, inline, prefix)))
            inlines.append(inline)
        inline_formsets = self.get_inline_formsets(request, formsets, inlines, config)
        media = self.media + admin_form.media
        for inline_formset in inline_formsets:
            media += inline_formset.media
        title = _("Add %s") if add else _("Change %s") if editable else _("View %s")
        context = {
            **self.admin_site.each_context(request),
            "title": title % self.opts.verbose_name,
            "subtitle": str(config) if config else None,
            "adminform": admin_form,
            "object_id": None if add else str(config.pk),
            "original": config,
            "is_popup": IS_POPUP_VAR in request.POST or IS_POPUP_VAR in request.GET,
            "to_field": None,
            "media": media,
            "inline_admin_formsets": inline_formsets,
            "errors": helpers.AdminErrorList(form, formsets),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=add, change=not add, obj=config, form_url=form_url)

    # --- deleting ---------------------------------------------------------------------------------

    @csrf_protect_m
    def delete_view(self, request, object_id, extra_context=None):
        """GET: Django's confirmation page. POST (confirmed): delete through the service."""
        if request.method != "POST" or not request.POST:
            return super().delete_view(request, object_id, extra_context)
        config = self.get_object(request, unquote(object_id))
        if not self.has_delete_permission(request, config):
            raise PermissionDenied
        if config is None:
            return django_internals.not_found_redirect(self, request, object_id)
        if self.delete_entry(request, config):
            return self.response_delete(request, str(config), config.pk)
        if Config.objects.filter(pk=config.pk).exists():
            return HttpResponseRedirect(reverse("admin:configs_config_change", args=[config.pk]))
        return HttpResponseRedirect(reverse("admin:configs_config_changelist"))

    def delete_entry(self, request, config: Config) -> bool:
        """Delete through the service and log it, or say why not."""
        reason = writes.delete(config, actor=request.user)
        if reason is None:
            self.log_deletions(request, [config])
            return True
        self.message_user(request, f"Could not delete “{config.name}”: {reason}.", messages.ERROR)
        return False

    @admin.action(permissions=["delete"], description=gettext_lazy("Delete selected %(verbose_name_plural)s"))
    def delete_selected(self, request, queryset):
        """Django's "delete selected" (its confirmation page, its refusals), but each entry is
        deleted through the service, and only those deleted are counted."""
        if request.POST.get("post"):
            *_objects, perms_needed, protected = self.get_deleted_objects(queryset, request)
            if not protected:
                if perms_needed:
                    raise PermissionDenied
                deleted = sum(self.delete_entry(request, config) for config in queryset)
                if deleted:
                    done = _("Successfully deleted %(count)d %(items)s.") % {
                        "count": deleted,
                        "items": model_ngettext(self.opts, deleted),
                    }
                    self.message_user(request, done, messages.SUCCESS)
                return None  # the list again
        return self.with_consequence(django_actions.delete_selected(self, request, queryset), queryset)

    def deletion_consequence(self, objects: list) -> str:
        names = ", ".join(f"“{config.name}”" for config in objects)
        return (
            f"Deleting {names} removes the data and every version of its history now: clients that read it "
            "get 404 from the next read, and it cannot be rolled back. Writing the name again starts a new "
            "entry at version 1."
        )

    # --- rollback -----------------------------------------------------------------------------------

    def rollback_view(self, request, object_id, version):
        """A confirmation page (old and current data); POST calls services.rollback."""
        if not self.has_rollback_permission(request):
            raise PermissionDenied
        config = self.get_object(request, unquote(object_id))
        if config is None:
            return django_internals.not_found_redirect(self, request, object_id)
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
            written, level, message = writes.roll_back(
                config, actor=request.user, version=version, if_match=form.cleaned_data["current_version"]
            )
            if written is not None:
                self.log_change(request, written, f"Rolled back to version {version}.")
            self.message_user(request, message, level)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Roll back “{config.name}” to version {version}",
            "opts": self.opts,
            "original": config,
            "old": old,
            "old_data": indented(old.data),
            "current_data": indented(config.data),
            "same_data": old.data == config.data,
            "form": form,
            "change_url": change_url,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.rollback_template, context)
