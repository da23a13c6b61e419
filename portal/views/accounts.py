"""One login page for everyone (Django's auth views); where each role lands after it."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse, reverse_lazy

from cloudassist import accounts, roles

# DevOps and admins review in the admin console: its request list opens on what waits for review.
REVIEW_INBOX = "admin:provisioning_provisionrequest_changelist"


def landing_url(user) -> str:
    """Developers land on their environments; reviewers on their review inbox."""
    if roles.is_reviewer(user):
        return reverse(REVIEW_INBOX)
    return reverse("portal:environments")


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return landing_url(self.request.user)


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("portal:login")


class PasswordChangeView(accounts.PasswordChangeView):
    """Changing one's password revokes one's API tokens; the next page says so."""

    template_name = "portal/password_change.html"
    success_url = reverse_lazy("portal:password-change-done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "portal/password_change_done.html"


@login_required
def home(request):
    return redirect(landing_url(request.user))
