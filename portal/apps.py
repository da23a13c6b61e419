from cloudassist.apps import ProjectAppConfig


class PortalConfig(ProjectAppConfig):
    """The developer portal: server-rendered pages with htmx, on the same services and selectors
    as the API (the top layer: it may use every app, none uses it)."""

    name = "portal"
    verbose_name = "Portal"
