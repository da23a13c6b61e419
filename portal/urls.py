"""The portal's pages: /login/, /logout/, /password/, and the developer pages under /portal/."""

from django.urls import path

from portal.views import accounts, environments

app_name = "portal"

urlpatterns = [
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", accounts.LogoutView.as_view(), name="logout"),
    path("password/", accounts.PasswordChangeView.as_view(), name="password-change"),
    path("password/done/", accounts.PasswordChangeDoneView.as_view(), name="password-change-done"),
    path("portal/", accounts.home, name="home"),
    path("portal/environments/", environments.environments, name="environments"),
]
