"""The entry list's filters."""

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone


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
