"""The users' admin: django.contrib.auth's, showing roles (not "groups": the staff flag and the
permissions follow from them) and what other apps add per user (``add_column``: the quotas app's
quota use), with usernames ASCII (Django's ASCIIUsernameValidator, as cloudassist.services checks
them for the API, which publishes them so). It replaces auth's registration from
CloudAssistConfig.ready(), after the admin's autodiscover (the admin app's ready(), the first
app's) has made it; it cannot live in cloudassist/admin.py, which the site (``default_site``) is
imported from while auth's admin module registers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.contrib.auth.validators import ASCIIUsernameValidator
from django.utils.html import format_html, format_html_join

from cloudassist import roles


@dataclass(frozen=True)
class UserColumn:
    """A column another app adds to the users list and a section to the user's page (the core
    imports no app: the app adds it from its admin module)."""

    name: str
    description: str
    cells: Callable[[list], dict]  # the list page's users -> {user pk: HTML}, in a bounded number of queries
    detail: Callable[[object], str]  # one user -> HTML for their page


_columns: dict[str, UserColumn] = {}


def add_column(column: UserColumn) -> None:
    _columns[column.name] = column


class RoleFilter(admin.SimpleListFilter):
    """By role, through the memberships (no join on MongoDB)."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return list(Group.objects.order_by("name").values_list("pk", "name"))

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        through = get_user_model().groups.through
        try:
            members = list(through.objects.filter(group_id=value).values_list("user_id", flat=True))
        except (ValueError, TypeError):
            return queryset.none()
        return queryset.filter(pk__in=members)


class UsersChangeList(ChangeList):
    """The page's users with their role names and every added column's cells, loaded for the page at once."""

    def get_results(self, request):
        super().get_results(request)
        users = list(self.result_list)
        names = roles.names_by_user([user.pk for user in users]) if users else {}
        cells = {name: column.cells(users) if users else {} for name, column in _columns.items()}
        for user in users:
            user._role_names = names.get(user.pk, set())
            user._console_cells = {name: found.get(user.pk, "-") for name, found in cells.items()}


class ASCIIUsernameMixin:
    """For a user form: the username is ASCII, as the API publishes and checks it."""

    username_validator = ASCIIUsernameValidator()

    def clean_username(self):
        clean = getattr(super(), "clean_username", None)
        username = clean() if clean else self.cleaned_data.get("username")
        if username:
            self.username_validator(username)
        return username


class UserCreationForm(ASCIIUsernameMixin, AdminUserCreationForm):
    pass


class UserEditForm(ASCIIUsernameMixin, UserChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "groups" in self.fields:
            self.fields["groups"].label = "Roles"
            self.fields["groups"].help_text = " ".join(f"{name}: {text}" for name, text in roles.DESCRIPTIONS.items())


def _cell(name: str, description: str):
    @admin.display(description=description)
    def cell(user):
        return getattr(user, "_console_cells", {}).get(name, "-")

    cell.__name__ = name
    return cell


class UserAdmin(auth_admin.UserAdmin):
    add_form = UserCreationForm
    form = UserEditForm
    list_filter = ["is_active", RoleFilter, "is_superuser"]
    list_display_links = ["username"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email"]}),
        ("Roles and access", {"fields": ["is_active", "groups", "is_superuser", "role_summary"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    readonly_fields = ["role_summary", "added_sections"]
    filter_horizontal = ["groups"]

    class Media:  # cloudassist.admin.CONSOLE_CSS (not imported: cloudassist.admin imports the app config)
        css = {"all": ["cloudassist/console.css"]}

    def get_changelist(self, request, **kwargs):
        return UsersChangeList

    def get_list_display(self, request):
        added = [_cell(column.name, column.description) for column in _columns.values()]
        return ["username", "full_name", "email", "role_list", "is_active", *added, "last_login"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None or not _columns:
            return fieldsets
        title = ", ".join(column.description for column in _columns.values()).capitalize()
        return [*fieldsets[:-1], (title, {"fields": ["added_sections"]}), fieldsets[-1]]

    @admin.display(description="name", ordering="last_name")
    def full_name(self, user):
        return user.get_full_name() or "-"

    @admin.display(description="roles")
    def role_list(self, user):
        names = sorted(roles.role_names(user))
        text = ", ".join(names) if names else "none"
        if user.is_superuser:
            text += " (superuser)"
        return format_html('<span class="role-list">{}</span>', text)

    @admin.display(description="what the roles allow")
    def role_summary(self, user):
        names = sorted(roles.role_names(user)) if user is not None and user.pk else []
        if not names:
            return format_html("<em>{}</em>", "No role: this user can sign in but do nothing.")
        access = "signs in to this console" if user.is_staff else "uses the portal and the API, not this console"
        return format_html(
            '<ul>{}</ul><p class="help">{}</p>',
            format_html_join(
                "", "<li><strong>{}</strong>: {}</li>", ((n, roles.DESCRIPTIONS.get(n, "")) for n in names)
            ),
            f"With these roles the user {access}.",
        )

    @admin.display(description="now")
    def added_sections(self, user):
        if user is None or not user.pk:
            return "-"
        return format_html_join("", "{}", ((column.detail(user),) for column in _columns.values()))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The staff flag follows the roles (admins and DevOps sign in to this console), as in the API
        # (cloudassist.services, which this module cannot import: it imports the app config).
        user = form.instance
        names = roles.names_by_user([user.pk])[user.pk]
        staff = roles.signs_in_to_console(names, is_superuser=user.is_superuser)
        if user.is_staff != staff:
            get_user_model().objects.filter(pk=user.pk).update(is_staff=staff)
            user.is_staff = staff
        user._role_names = names


def register() -> None:
    user_model = get_user_model()
    if admin.site.is_registered(user_model):
        admin.site.unregister(user_model)
    admin.site.register(user_model, UserAdmin)
