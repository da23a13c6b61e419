"""Template use cases: create, update, (de)activate, render."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from cloudassist.exceptions import Conflict
from templates import rendering
from templates.models import Template

DEFINITION_FIELDS = ("body", "parameters_schema")


def _check(template: Template) -> None:
    rendering.check_definition(
        body=template.body,
        parameters_schema=template.parameters_schema,
        default_lifetime_hours=template.default_lifetime_hours,
        max_lifetime_hours=template.max_lifetime_hours,
        max_total_lifetime_hours=template.max_total_lifetime_hours,
    )


def create_template(*, actor, id: str, **fields: Any) -> Template:
    if Template.objects.filter(pk=id).exists():
        raise ValidationError({"id": [f"A template with id '{id}' already exists."]})
    template = Template(id=id, created_by=actor if actor and actor.is_authenticated else None, **fields)
    _check(template)
    template.save(force_insert=True)
    return template


def update_template(*, template: Template, **fields: Any) -> Template:
    """Change a template; a change to its body or schema bumps its version.

    Compare-and-set on the version the caller read: of two concurrent definition changes
    made from the same version, one wins and the other gets a 409 instead of silently
    overwriting it.
    """
    fields.pop("id", None)
    changes_definition = any(name in fields and fields[name] != getattr(template, name) for name in DEFINITION_FIELDS)
    read_version = template.version
    for name, value in fields.items():
        setattr(template, name, value)
    _check(template)
    template.updated_at = timezone.now()
    if changes_definition:
        template.version = read_version + 1
    written = Template.objects.filter(pk=template.pk, version=read_version).update(
        **fields, version=template.version, updated_at=template.updated_at
    )
    if written != 1:
        raise Conflict(f"Template '{template.pk}' changed meanwhile; reload it and apply your change again.")
    return template


def set_active(*, template: Template, active: bool) -> Template:
    Template.objects.filter(pk=template.pk).update(is_active=active)
    template.is_active = active
    return template


def render(*, template: Template, parameters: Any) -> rendering.Rendered:
    """Dry run: validate parameters against the template's schema and render its body."""
    return rendering.render(body=template.body, schema=template.parameters_schema, parameters=parameters)
