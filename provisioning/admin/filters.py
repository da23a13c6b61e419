"""The console's list filters: status (pending review by default), age, and template without a join."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import connection
from django.utils import timezone

from provisioning.choices import ExtensionStatus, RequestStatus
from provisioning.models import ExtensionRequest, ProvisionRequest
from templates.models import Template


class DefaultStatusFilter(admin.SimpleListFilter):
    """Status, defaulting to the ones pending review; ``?status=all`` shows every status."""

    title = "status"
    parameter_name = "status"
    ALL = "all"
    default = "REQUESTED"
    status_choices: ClassVar[list[tuple[str, str]]] = []

    def lookups(self, request, model_admin):
        return [(self.ALL, "All"), *self.status_choices]

    def value(self):
        return super().value() or self.default

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.ALL:
            return queryset
        if value not in {choice for choice, _ in self.status_choices}:
            raise IncorrectLookupParameters(f"Unknown status {value!r}.")
        return queryset.filter(status=value)

    def choices(self, changelist):
        # No "no parameter" choice: without one the filter shows the default (pending review).
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class RequestStatusFilter(DefaultStatusFilter):
    default = RequestStatus.REQUESTED
    status_choices = RequestStatus.choices


class ExtensionStatusFilter(DefaultStatusFilter):
    default = ExtensionStatus.REQUESTED
    status_choices = ExtensionStatus.choices


class AgeFilter(admin.SimpleListFilter):
    """How long ago the request was made (``created_at``)."""

    title = "age"
    parameter_name = "age"
    WEEK = timedelta(days=7)
    RECENT: ClassVar[dict[str, tuple[str, timedelta]]] = {
        "hour": ("Last hour", timedelta(hours=1)),
        "day": ("Last 24 hours", timedelta(days=1)),
        "week": ("Last 7 days", WEEK),
    }
    OLDER = "older"

    def lookups(self, request, model_admin):
        return [*((key, label) for key, (label, _) in self.RECENT.items()), (self.OLDER, "Older than a week")]

    def queryset(self, request, queryset):
        value, now = self.value(), timezone.now()
        if value is None:
            return queryset
        if value in self.RECENT:
            return queryset.filter(created_at__gte=now - self.RECENT[value][1])
        if value == self.OLDER:
            return queryset.filter(created_at__lt=now - self.WEEK)
        raise IncorrectLookupParameters(f"Unknown age {value!r}.")


class ExtensionTemplateFilter(admin.SimpleListFilter):
    """Extensions by their provision request's template, without a join: the requests of that
    template among those that have extensions are found first, then their extensions."""

    title = "template"
    parameter_name = "provision_request__template__id__exact"  # the URL the related-field filter had

    def lookups(self, request, model_admin):
        return list(Template.objects.order_by("name", "id").values_list("pk", "name"))

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        extended = connection.get_collection(ExtensionRequest._meta.db_table).distinct("provision_request_id")
        ids = ProvisionRequest.objects.filter(pk__in=extended, template_id=self.value()).values_list("pk", flat=True)
        return queryset.filter(provision_request_id__in=list(ids))
