"""Template use cases: create, update, roll back, (de)activate, render.

Every definition (body, parameters schema and the policy fields: lifetimes, auto-approval, review,
lease and purge) is kept as a TemplateVersion, written in the same transaction as the version bump;
a change of any of them is a new version, and a rollback restores all three."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from cloudassist.db import run_atomic
from cloudassist.exceptions import Conflict
from templates import planning, rendering, selectors
from templates.models import VERSIONED_POLICY_FIELDS, Template, TemplateVersion, policy_of, policy_values

DEFINITION_FIELDS = ("body", "parameters_schema", *VERSIONED_POLICY_FIELDS)


def check_definition(
    *,
    provider: str,
    body: str,
    parameters_schema: Any,
    default_lifetime_hours: int,
    max_lifetime_hours: int,
    max_total_lifetime_hours: int | None = None,
) -> tuple[planning.Planned, Any]:
    """What saving a template checks (the API, the admin form): the provider is a registered plugin,
    the definition is sound, and rendered with its defaults and examples it is a document the plugin
    supports, plans and can price (errors name the path). Returns the default render's plan and estimate."""
    planning.plugin(provider)
    rendering.check_definition(
        body=body,
        parameters_schema=parameters_schema,
        default_lifetime_hours=default_lifetime_hours,
        max_lifetime_hours=max_lifetime_hours,
        max_total_lifetime_hours=max_total_lifetime_hours,
    )
    return planning.check_template(
        provider=provider, body=body, schema=parameters_schema, lifetime_hours=default_lifetime_hours
    )


def _check(template: Template) -> None:
    check_definition(
        provider=template.provider,
        body=template.body,
        parameters_schema=template.parameters_schema,
        default_lifetime_hours=template.default_lifetime_hours,
        max_lifetime_hours=template.max_lifetime_hours,
        max_total_lifetime_hours=template.max_total_lifetime_hours,
    )


def create_template(*, actor, id: str, **fields: Any) -> Template:
    if Template.objects.filter(pk=id).exists():
        raise ValidationError({"id": [f"A template with id '{id}' already exists."]})
    author = _author(actor)
    template = Template(id=id, created_by=author, **fields)
    _check(template)

    def unit() -> None:
        template.save(force_insert=True)
        _record(template, action="create", author=author)

    run_atomic(unit)
    selectors.template_changed(template.pk)
    return template


def _author(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _record(
    template: Template, *, action: str, author, version: int | None = None, body=None, schema=None, policy=None
):
    TemplateVersion.objects.create(
        template=template,
        version=template.version if version is None else version,
        body=template.body if body is None else body,
        parameters_schema=template.parameters_schema if schema is None else schema,
        policy=policy_of(template) if policy is None else policy,
        action=action,
        author=author,
    )


def update_template(*, template: Template, actor=None, _action: str = "update", **fields: Any) -> Template:
    """Change a template; a change to its body, schema or policy bumps its version and is kept in its history.

    Compare-and-set on the version the caller read: of two concurrent definition changes
    made from the same version, one wins and the other gets a 409 instead of silently
    overwriting it.
    """
    fields.pop("id", None)
    changes_definition = any(name in fields and fields[name] != getattr(template, name) for name in DEFINITION_FIELDS)
    read_version = template.version
    before = {"body": template.body, "schema": template.parameters_schema, "policy": policy_of(template)}
    for name, value in fields.items():
        setattr(template, name, value)
    _check(template)
    template.updated_at = timezone.now()
    if changes_definition:
        template.version = read_version + 1
    author = _author(actor)

    def unit() -> int:
        written = Template.objects.filter(pk=template.pk, version=read_version).update(
            **fields, version=template.version, updated_at=template.updated_at
        )
        if written == 1 and changes_definition:
            replaced = TemplateVersion.objects.filter(template=template, version=read_version)
            if not replaced.exists():
                # A template from before the history: keep the definition being replaced too.
                _record(template, action="recorded", author=None, version=read_version, **before)
            else:
                # A version from before versions kept policies: the policy it is replaced with is
                # the one it had last, so that it shows in the diff and a rollback restores it.
                replaced.filter(policy__isnull=True).update(policy=before["policy"])
            _record(template, action=_action, author=author)
        return written

    if run_atomic(unit) != 1:
        raise Conflict(f"Template '{template.pk}' changed meanwhile; reload it and apply your change again.")
    selectors.template_changed(template.pk)
    return template


def roll_back(*, template: Template, version: int, actor, if_version: int | None = None) -> Template:
    """Make version ``version``'s definition the current one, as a new version (the history keeps
    every version). ``if_version``: the version the caller saw (409 when it moved on)."""
    old = TemplateVersion.objects.filter(template=template, version=version).first()
    if old is None:
        raise ValidationError({"version": [f"Template '{template.pk}' has no version {version}."]})
    if if_version is not None and if_version != template.version:
        raise Conflict(f"Template '{template.pk}' changed meanwhile (now version {template.version}); look again.")
    if same_definition(old, template):
        raise Conflict(f"Version {version} is the current definition of '{template.pk}'; nothing to roll back.")
    return update_template(
        template=template,
        actor=actor,
        _action=f"rollback to {version}",
        body=old.body,
        parameters_schema=old.parameters_schema,
        **policy_values(old.policy or {}),  # versions from before policies were kept restore none
    )


def same_definition(old: TemplateVersion, template: Template) -> bool:
    """Whether version ``old`` is the template's current body, schema and policy (a version from
    before policies were kept compares on body and schema only)."""
    current = policy_of(template)
    return (
        old.body == template.body
        and old.parameters_schema == template.parameters_schema
        and all(current[name] == value for name, value in (old.policy or {}).items() if name in current)
    )


def set_active(*, template: Template, active: bool) -> Template:
    Template.objects.filter(pk=template.pk).update(is_active=active)
    selectors.template_changed(template.pk)
    template.is_active = active
    return template


def render(*, template: Template, parameters: Any) -> rendering.Rendered:
    """Dry run: validate parameters against the template's schema and render its body."""
    return rendering.render(body=template.body, schema=template.parameters_schema, parameters=parameters)


def dry_run(*, template: Template, parameters: Any, lifetime_hours: int | None = None) -> dict[str, Any]:
    """Plan and price what a request with ``parameters`` would create, without submitting it:
    priced for ``lifetime_hours`` (the template's default lifetime when None, at most its maximum)."""
    hours = template.default_lifetime_hours if lifetime_hours is None else lifetime_hours
    if not 1 <= hours <= template.max_lifetime_hours:
        raise ValidationError(
            {"lifetime_hours": [f"Must be between 1 and {template.max_lifetime_hours} (this template's maximum)."]}
        )
    planned = planning.plan(
        provider=template.provider, body=template.body, schema=template.parameters_schema, parameters=parameters
    )
    return {
        "template": template.pk,
        "template_version": template.version,
        "parameters": planned.rendered.parameters,
        "plan": planned.plan.as_dict(),
        "estimate": planning.price(planned.plan, hours).as_dict(),
    }
