"""The config server's routes, mounted by the project under /api/v1/ and at the root, so each
exists at ``/api/v1/configs/...`` and at ``/configs/...`` (the seed's paths, for existing clients);
a trailing slash is optional everywhere."""

from configs.urls import patterns

urlpatterns = patterns("configs")
