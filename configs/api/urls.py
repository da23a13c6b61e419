"""The config server's URLs, mounted twice by the project's URLconf: under ``/api/v1/`` and at
the root, so each exists at ``/api/v1/configs/...`` and at ``/configs/...`` (the seed's paths,
for existing clients); a trailing slash is optional everywhere."""

from django.urls import re_path

from configs.api import dispatch, views

NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9._:-]{0,127})"


def patterns(prefix: str) -> list:
    return [
        re_path(rf"^{prefix}/?$", views.ConfigListView.as_view()),
        re_path(rf"^{prefix}/{NAME}/versions/?$", views.ConfigVersionsView.as_view()),
        re_path(rf"^{prefix}/{NAME}/versions/(?P<version>[0-9]+)/?$", views.ConfigVersionView.as_view()),
        re_path(rf"^{prefix}/{NAME}/rollback/?$", views.ConfigRollbackView.as_view()),
        re_path(rf"^{prefix}/{NAME}/?$", dispatch.detail),
    ]


urlpatterns = patterns("configs")
