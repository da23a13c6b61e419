from decimal import Decimal

from django.contrib import admin

from quotas.models import DiskPrice, InstancePrice, ServicePrice

# ---------------------------------------------------------------------------------------------
# Pricing tables: DevOps view them, admins add and change them. `manage.py sync_pricing`
# refreshes them from the AWS Price List API; a price edited here is marked `source=admin`.

HOURS_PER_MONTH = Decimal(730)
ADMIN_SOURCE = "admin"


class InstanceFamilyFilter(admin.SimpleListFilter):
    title = "instance family"
    parameter_name = "family"

    def lookups(self, request, model_admin):
        types = set(model_admin.get_queryset(request).values_list("instance_type", flat=True))
        families = sorted({instance_type.split(".", 1)[0] for instance_type in types})
        return [(family, family) for family in families]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(instance_type__startswith=f"{self.value()}.")
        return queryset


class PriceAdmin(admin.ModelAdmin):
    """Shared behaviour: the price is the only thing whose edit changes `source`."""

    price_field = ""
    readonly_fields = ["source", "updated_at"]
    list_per_page = 100

    def save_model(self, request, obj, form, change):
        if self.price_field in form.changed_data or not change:
            obj.source = ADMIN_SOURCE
        super().save_model(request, obj, form, change)


@admin.register(InstancePrice)
class InstancePriceAdmin(PriceAdmin):
    price_field = "usd_per_hour"
    list_display = [
        "instance_type",
        "region",
        "usd_per_hour",
        "usd_per_month",
        "vcpus",
        "memory_gib",
        "pricing_model",
        "operating_system",
        "source",
        "updated_at",
    ]
    list_filter = ["region", InstanceFamilyFilter, "source", "pricing_model", "operating_system"]
    search_fields = ["instance_type", "region"]
    fields = [
        "instance_type",
        "region",
        "pricing_model",
        "operating_system",
        "usd_per_hour",
        "vcpus",
        "memory_gib",
        "source",
        "updated_at",
    ]

    @admin.display(description="USD per month (730 h)", ordering="usd_per_hour")
    def usd_per_month(self, obj: InstancePrice) -> str:
        return f"{(obj.usd_per_hour * HOURS_PER_MONTH).quantize(Decimal('0.01'))}"


@admin.register(DiskPrice)
class DiskPriceAdmin(PriceAdmin):
    price_field = "usd_per_gb_month"
    list_display = ["disk_type", "region", "usd_per_gb_month", "source", "updated_at"]
    list_filter = ["region", "disk_type", "source"]
    search_fields = ["disk_type", "region"]
    fields = ["disk_type", "region", "usd_per_gb_month", "source", "updated_at"]


@admin.register(ServicePrice)
class ServicePriceAdmin(PriceAdmin):
    price_field = "usd_per_hour"
    list_display = ["service", "region", "usd_per_hour", "source", "updated_at"]
    list_filter = ["service", "region", "source"]
    search_fields = ["service", "region"]
    fields = ["service", "region", "usd_per_hour", "source", "updated_at"]
