"""What the console's admins share: links to change pages, ages, and the read-only mixin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.timesince import timesince

from cloudassist.admin import ReadOnlyAdminMixin, short_id


def change_link(model: str, pk, text: str | None = None) -> str:
    """A link to the change page of ``pk`` of ``model`` (``app_label.model_name``), named by
    ``text`` or the pk's short form (the whole on hover); "-" without a pk."""
    if not pk:
        return "-"
    url = reverse(f"admin:{model.replace('.', '_')}_change", args=[pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else short_id(pk))


def admin_link(obj, text: str | None = None) -> str:
    if obj is None:
        return "-"
    return change_link(obj._meta.label_lower, obj.pk, text)


def age_of(created_at) -> str:
    return timesince(created_at) if created_at else "-"


class ReadOnlyConsoleMixin(ReadOnlyAdminMixin):
    """Nothing is added, changed or deleted in the console; the change page is a view page."""

    show_facets = admin.ShowFacets.NEVER
