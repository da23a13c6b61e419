"""The portal's pages: /login/, /logout/, /password/, and the developer pages under /portal/."""

from django.urls import path

from portal.views import accounts, catalog, environments
from portal.views import notifications as notification_views
from portal.views import requests as request_views
from portal.views import usage as usage_views

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
    path("portal/environments/table/", environments.environments_table, name="environments-table"),
    path("portal/requests/<str:pk>/", request_views.request_page, name="request"),
    path("portal/requests/<str:pk>/extension/", request_views.request_extension, name="request-extension"),
    path("portal/requests/<str:pk>/download/<str:kind>/", request_views.download_secret, name="request-download"),
    path("portal/requests/<str:pk>/<slug:action>/", request_views.request_action, name="request-action"),
    path("portal/notifications/", notification_views.notifications, name="notifications"),
    path("portal/notifications/read-all/", notification_views.mark_all_read, name="notifications-read-all"),
    path("portal/notifications/<str:pk>/read/", notification_views.mark_read, name="notification-read"),
    path("portal/usage/", usage_views.usage, name="usage"),
]
