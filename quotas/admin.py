from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from cloudassist.admin import ReadOnlyAdminMixin, add_errors, dollars
from quotas import estimates
from quotas import services as quota_services
from quotas.estimates import from_micros
from quotas.models import DiskPrice, InstancePrice, Quota, ServicePrice, UsageLedger

# ---------------------------------------------------------------------------------------------
# Pricing tables: DevOps view them, admins add and change them. `manage.py sync_pricing`
# refreshes them from the AWS Price List API; a price edited here is marked `source=admin`.

HOURS_PER_MONTH = Decimal(730)
ADMIN_SOURCE = "admin"
PRICE_RECORD = ("source", "updated_at")  # where a price came from, and when: on every price, read-only
# An instance price is for a type in a region on some terms (the unique key), and says the type's size.
INSTANCE = ("instance_type", "region")
INSTANCE_TERMS = ("pricing_model", "operating_system")
INSTANCE_SIZE = ("vcpus", "memory_gib")


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
    readonly_fields = PRICE_RECORD
    list_per_page = 100

    @admin.display(description="price")
    def price(self, obj) -> str:
        """The list shows the price in dollars (rates to a hundredth of a cent)."""
        return dollars(getattr(obj, self.price_field), places=4)

    def get_list_display(self, request):
        return [("price" if name == self.price_field else name) for name in super().get_list_display(request)]

    def save_model(self, request, obj, form, change):
        if self.price_field in form.changed_data or not change:
            obj.source = ADMIN_SOURCE
        super().save_model(request, obj, form, change)
        estimates.prices_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        estimates.prices_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        estimates.prices_changed()


@admin.register(InstancePrice)
class InstancePriceAdmin(PriceAdmin):
    price_field = "usd_per_hour"
    list_display = [*INSTANCE, price_field, "usd_per_month", *INSTANCE_SIZE, *INSTANCE_TERMS, *PRICE_RECORD]
    list_filter = ["region", InstanceFamilyFilter, "source", *INSTANCE_TERMS]
    search_fields = list(INSTANCE)
    fields = [*INSTANCE, *INSTANCE_TERMS, price_field, *INSTANCE_SIZE, *PRICE_RECORD]

    @admin.display(description="USD per month (730 h)", ordering="usd_per_hour")
    def usd_per_month(self, obj: InstancePrice) -> str:
        return dollars(obj.usd_per_hour * HOURS_PER_MONTH)


@admin.register(DiskPrice)
class DiskPriceAdmin(PriceAdmin):
    price_field = "usd_per_gb_month"
    fields = ["disk_type", "region", price_field, *PRICE_RECORD]
    list_display = fields
    list_filter = ["region", "disk_type", "source"]
    search_fields = ["disk_type", "region"]


@admin.register(ServicePrice)
class ServicePriceAdmin(PriceAdmin):
    price_field = "usd_per_hour"
    fields = ["service", "region", price_field, *PRICE_RECORD]
    list_display = fields
    list_filter = ["service", "region", "source"]
    search_fields = ["service", "region"]


# --- quotas and usage -------------------------------------------------------------------------

QUOTA_LIMITS = tuple(dimension.quota_field for dimension in quota_services.DIMENSIONS)  # empty = unlimited
QUOTA_RECORD = ("ended_at", "created_by", "created_at", "updated_at")  # set by the services, read-only


class QuotaForm(forms.ModelForm):
    """Shows the quota rules (one holder, a window for TEMPORARY, no negative limits) on the form."""

    class Meta:
        model = Quota
        fields = list(quota_services.QUOTA_FIELDS)

    def clean(self):
        cleaned = super().clean()
        candidate = Quota(**{name: cleaned.get(name) for name in quota_services.QUOTA_FIELDS})
        try:
            quota_services.check_quota(candidate)
        except ValidationError as exc:
            add_errors(self, exc)
        return cleaned


class QuotaStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Not ended"), ("ended", "Ended")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(ended_at=None)
        if self.value() == "ended":
            return queryset.exclude(ended_at=None)
        return queryset


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    """Admins allocate, update and end quotas (ended quotas stay for the record); DevOps view."""

    form = QuotaForm
    list_display = ["id", "holder", "quota_type", "valid_from", "valid_until"]
    list_display += [("usd_budget_display" if name == "usd_budget" else name) for name in QUOTA_LIMITS] + ["ended_at"]
    list_filter = ["quota_type", QuotaStateFilter, "role"]
    list_select_related = ["user", "role"]
    search_fields = ["user__username", "role__name", "note"]
    readonly_fields = QUOTA_RECORD
    actions = ["end_selected"]
    fieldsets = [
        ("Holder (one of)", {"fields": ["user", "role"]}),
        ("Validity", {"fields": ["quota_type", "valid_from", "valid_until"]}),
        ("Limits (empty = unlimited)", {"fields": QUOTA_LIMITS}),
        (None, {"fields": ["note", *QUOTA_RECORD]}),
    ]

    @admin.display(description="USD budget", ordering="usd_budget")
    def usd_budget_display(self, quota: Quota) -> str:
        return dollars(quota.usd_budget, empty="unlimited")

    @admin.display(description="for")
    def holder(self, quota: Quota) -> str:
        return f"user {quota.user}" if quota.user_id else f"role {quota.role}"

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data.get(name) for name in quota_services.QUOTA_FIELDS}
        if change:
            saved = quota_services.update_quota(quota=Quota.objects.get(pk=obj.pk), **fields)
        else:
            saved = quota_services.create_quota(actor=request.user, **fields)
        obj.pk = saved.pk

    @admin.action(description="End selected quotas now", permissions=["change"])
    def end_selected(self, request, queryset):
        ended = [quota_services.end_quota(quota=quota) for quota in queryset.filter(ended_at=None)]
        self.message_user(request, f"Ended {len(ended)} quota(s).", messages.SUCCESS)


@admin.register(UsageLedger)
class UsageLedgerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What each user's outstanding requests reserve, next to their effective limits (read-only)."""

    list_display = ["user", "live_environments", "usd", "machine_hours", "disk_gb_hours", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ["user", "usage_table", "updated_at"]
    readonly_fields = fields

    @admin.display(description="USD reserved")
    def usd(self, ledger: UsageLedger) -> str:
        return dollars(from_micros(ledger.usd_micros))

    @admin.display(description="machine-hours reserved")
    def machine_hours(self, ledger: UsageLedger) -> str:
        return f"{from_micros(ledger.machine_hours_micros).normalize():f}"

    @admin.display(description="disk GB-hours reserved")
    def disk_gb_hours(self, ledger: UsageLedger) -> str:
        return f"{from_micros(ledger.disk_gb_hours_micros).normalize():f}"

    @admin.display(description="usage against the effective quota")
    def usage_table(self, ledger: UsageLedger) -> str:
        usage = quota_services.usage(user=ledger.user)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (_usage_row(name, values) for name, values in usage["dimensions"].items()),
        )
        return format_html(
            "<p>Quota from: {}</p><table><tr><th>limit of</th><th>limit</th><th>reserved</th><th>available</th></tr>"
            "{}</table>",
            usage["source"],
            rows,
        )


def _usage_row(name: str, values: dict) -> tuple[str, str, str, str]:
    show = dollars if name == "usd" else str
    limit = show(values["limit"]) if values["limit"] is not None else "unlimited"
    available = show(values["available"]) if values["available"] is not None else "-"
    return name, limit, show(values["reserved"]), available
