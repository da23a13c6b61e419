import copy

from django.db.models import QuerySet

from cloudassist import apps, changes, roles
from cloudassist.feedcache import FeedCache
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


def _load_template(pk: str) -> Template | None:
    return Template.objects.filter(pk=pk).first()


_templates = FeedCache("templates", collections=(Template._meta.db_table,), max_entries=1024)


def template_by_id(pk: str) -> Template:
    """The template ``pk`` as it is now (its current version), from this process's cache
    (cloudassist/feedcache.py: dropped on any change to a template); Template.DoesNotExist if none.
    Each caller gets its own copy."""
    found = _templates.get(("template", pk), lambda: _load_template(pk))
    if found is None:
        raise Template.DoesNotExist(f"No template '{pk}'.")
    template = copy.copy(found)
    template.parameters_schema = copy.deepcopy(found.parameters_schema)
    return template


def template_changed(pk: str) -> None:
    """After this process's own write to template ``pk`` committed: no stale read here from now on."""
    changes.publish_local(Template._meta.db_table, pk)
