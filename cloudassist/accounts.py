"""The password change page the portal and the admin share: it goes through the one password
service, which revokes the user's API tokens (cloudassist/services.py ``change_password``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect

from cloudassist import services


class PasswordChangeView(auth_views.PasswordChangeView):
    def form_valid(self, form):
        services.change_password(
            user=form.user,
            password=form.cleaned_data["new_password1"],
            reason="password changed by its owner",
            validate=False,  # the form validated it
        )
        update_session_auth_hash(self.request, form.user)  # this session stays signed in, the others end
        messages.success(self.request, f"Your password was changed. {services.TOKENS_REVOKED_MESSAGE}")
        return HttpResponseRedirect(self.get_success_url())
