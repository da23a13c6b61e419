"""The users' admin: django.contrib.auth's, with usernames ASCII (Django's ASCIIUsernameValidator,
as cloudassist.services checks them for the API, which publishes them so). It replaces auth's
registration from CloudAssistConfig.ready(), after the admin's autodiscover (the admin app's
ready(), the first app's) has made it; it cannot live in cloudassist/admin.py, which the site
(``default_site``) is imported from while auth's admin module registers."""

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.validators import ASCIIUsernameValidator


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
    pass


class UserAdmin(auth_admin.UserAdmin):
    add_form = UserCreationForm
    form = UserEditForm


def register() -> None:
    user_model = get_user_model()
    if admin.site.is_registered(user_model):
        admin.site.unregister(user_model)
    admin.site.register(user_model, UserAdmin)
