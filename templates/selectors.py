from django.db.models import QuerySet

from cloudassist import apps, roles
from templates.models import Template


def templates_for(user) -> QuerySet[Template]:
    """Admins see every template; everyone else only the active ones."""
    queryset = Template.objects.order_by("name", "id")  # created_by is a link: its id is enough
    if roles.is_admin(user):
        return queryset
    return queryset.filter(is_active=True)


def unavailable_reason(template: Template) -> str | None:
    """Why ``template`` cannot be requested now (its provider is not configured: the reason names
    the setting to set), or None. Asked of the apps that know the providers (``provider_check``)."""
    return apps.unavailable_reason(template.provider)


def unavailable_templates() -> list[tuple[Template, str]]:
    """The active templates that cannot be requested now, with why."""
    reasons: dict[str, str | None] = {}
    found = []
    for template in Template.objects.filter(is_active=True).order_by("id"):
        if template.provider not in reasons:
            reasons[template.provider] = unavailable_reason(template)
        if reasons[template.provider]:
            found.append((template, reasons[template.provider]))
    return found


def banner_lines() -> list[str]:
    """`make run`'s banner: which templates cannot be requested, and what to set."""
    return [
        f"  Unavailable template {template.pk} ({template.provider}): {reason}"
        for template, reason in unavailable_templates()
    ]
