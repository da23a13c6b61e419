from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from cloudassist.admin import CONSOLE_CSS, ReadOnlyAdminMixin, add_errors, dollars, short_id
from cloudassist.admin_users import UserColumn, add_column
from quotas import estimates
from quotas import services as quota_services
from quotas.choices import QuotaType
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
    # Fits 1440 px: the limits in one column, the validity in another, the id short (whole on hover).
    list_display = ["quota_id", "holder", "quota_type", "validity", "limits", "state"]
    list_display_links = ["quota_id"]
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

    class Media:
        css = CONSOLE_CSS

    @admin.display(description="id", ordering="pk")
    def quota_id(self, quota: Quota) -> str:
        return short_id(quota.pk)

    @admin.display(description="valid", ordering="valid_from")
    def validity(self, quota: Quota) -> str:
        if quota.quota_type != QuotaType.TEMPORARY:
            return "always"
        return f"{_day(quota.valid_from)} to {_day(quota.valid_until)}"

    @admin.display(description="limits")
    def limits(self, quota: Quota) -> str:
        return limits_text(quota)

    @admin.display(description="state", ordering="ended_at")
    def state(self, quota: Quota) -> str:
        return f"ended {_day(quota.ended_at)}" if quota.ended_at else "in force"

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


def _day(value) -> str:
    return value.strftime("%Y-%m-%d") if value else "-"


def limits_text(quota: Quota) -> str:
    """A quota's limits in one line: "$100.00, 5 live environments, 50 machine-hours"; "none"."""
    parts = []
    if quota.usd_budget is not None:
        parts.append(dollars(quota.usd_budget))
    if quota.max_live_environments is not None:
        parts.append(_count(quota.max_live_environments, "live environment"))
    for field, unit in (("machine_hours", "machine-hours"), ("disk_gb_hours", "disk GB-hours")):
        value = getattr(quota, field)
        if value is not None:
            parts.append(f"{value.normalize():f} {unit}")
    return ", ".join(parts) if parts else "no limits"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


# --- quota use on the users' list and pages (cloudassist.admin_users) --------------------------------


def _amount(name: str, value: int | None) -> str:
    shown = quota_services.display(name, value)
    return dollars(shown) if name == "usd" else shown


def _use_cell(use: dict) -> str:
    """Reserved against the limit, for money and live environments: "$3.84 of $100.00 · 1 of 5 live"."""
    parts = []
    for name, suffix in (("usd", ""), ("live_environments", " live")):
        limit, held = use["dimensions"][name]
        over = limit is not None and held >= limit
        text = f"{_amount(name, held)} of {_amount(name, limit)}{suffix}" if limit is not None else None
        text = text or f"{_amount(name, held)}{suffix}, no limit"
        parts.append(format_html('<span class="{}">{}</span>', "over" if over else "", text))
    return format_html('<span class="quota-use" title="{}">{}</span>', _source(use["source"]), _join(parts))


def _join(parts: list[str]) -> str:
    return format_html_join(" · ", "{}", ((part,) for part in parts))


def _source(source: str) -> str:
    if source == "user":
        return "from the user's own quota"
    if source.startswith("role:"):
        return f"from the role quota of {source[5:]}"
    return "no quota applies: unlimited"


def quota_use_cells(users: list) -> dict:
    return {user_id: _use_cell(use) for user_id, use in quota_services.usage_of(users).items()}


def quota_use_detail(user) -> str:
    """Each dimension's limit, reserved and available, and where the limits come from."""
    use = quota_services.usage_of([user])[user.pk]
    rows = []
    for dimension in quota_services.DIMENSIONS:
        limit, held = use["dimensions"][dimension.name]
        available = None if limit is None else max(limit - held, 0)
        rows.append(
            (
                dimension.label,
                _amount(dimension.name, held),
                "no limit" if limit is None else _amount(dimension.name, limit),
                "-" if available is None else _amount(dimension.name, available),
            )
        )
    return format_html(
        '<table class="quota-use-table"><thead><tr><th scope="col">{}</th><th scope="col">{}</th>'
        '<th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>{}</tbody></table><p class="help">{}.</p>',
        "Dimension",
        "Reserved",
        "Limit",
        "Available",
        format_html_join(
            "",
            '<tr><th scope="row">{}</th><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>',
            rows,
        ),
        _source(use["source"]).capitalize(),
    )


add_column(UserColumn("quota_use", "quota use", quota_use_cells, quota_use_detail))


def _usage_row(name: str, values: dict) -> tuple[str, str, str, str]:
    show = dollars if name == "usd" else str
    limit = show(values["limit"]) if values["limit"] is not None else "unlimited"
    available = show(values["available"]) if values["available"] is not None else "-"
    return name, limit, show(values["reserved"]), available
