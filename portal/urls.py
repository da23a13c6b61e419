"""The portal's pages: /login/, /logout/, /password/, and the developer pages under /portal/."""

from django.shortcuts import redirect
from django.urls import path

from portal.views import accounts, catalog, environments

app_name = "portal"

urlpatterns = [
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", accounts.LogoutView.as_view(), name="logout"),
    path("password/", accounts.PasswordChangeView.as_view(), name="password-change"),
    path("password/done/", accounts.PasswordChangeDoneView.as_view(), name="password-change-done"),
    path("portal/", accounts.home, name="home"),
    path("portal/environments/", environments.environments, name="environments"),
    path("portal/catalog/", catalog.catalog, name="catalog"),
    path("portal/catalog/<slug:template_id>/request/", catalog.request_new, name="request-new"),
    path("portal/catalog/<slug:template_id>/estimate/", catalog.request_estimate, name="request-estimate"),
    # TEMPORARY (i16-pform): the request's page is built on another branch; drop this line at the merge.
    path("portal/requests/<str:pk>/", lambda request, pk: redirect("portal:environments"), name="request"),
]
