"""Template use cases: create, update, (de)activate, render."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from templates import rendering
from templates.models import Template

DEFINITION_FIELDS = ("body", "parameters_schema")


def _check(template: Template) -> None:
    rendering.check_definition(
        body=template.body,
        parameters_schema=template.parameters_schema,
        default_lifetime_hours=template.default_lifetime_hours,
        max_lifetime_hours=template.max_lifetime_hours,
    )


def create_template(*, actor, id: str, **fields: Any) -> Template:
    if Template.objects.filter(pk=id).exists():
        raise ValidationError({"id": [f"A template with id '{id}' already exists."]})
    template = Template(id=id, created_by=actor if actor and actor.is_authenticated else None, **fields)
    _check(template)
    template.save(force_insert=True)
    return template


def update_template(*, template: Template, **fields: Any) -> Template:
    """Change a template; a change to its body or schema bumps its version."""
    fields.pop("id", None)
    changes_definition = any(name in fields and fields[name] != getattr(template, name) for name in DEFINITION_FIELDS)
    for name, value in fields.items():
        setattr(template, name, value)
    _check(template)
    if changes_definition:
        template.version += 1
    template.save()
    return template


def set_active(*, template: Template, active: bool) -> Template:
    Template.objects.filter(pk=template.pk).update(is_active=active)
    template.is_active = active
    return template


def render(*, template: Template, parameters: Any) -> rendering.Rendered:
    """Dry run: validate parameters against the template's schema and render its body."""
    return rendering.render(body=template.body, schema=template.parameters_schema, parameters=parameters)
