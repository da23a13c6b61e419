"""The catalog: the active templates, whether each can be requested now (and why not), and what
it typically costs (its default parameters for its default lifetime)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

from cloudassist import roles
from quotas import services as quota_services
from templates import planning, selectors
from templates.models import Template


@dataclass(frozen=True)
class Entry:
    template: Template
    unavailable_reason: str  # empty when it can be requested
    typical_usd: Decimal | None  # None: not priced in advance (see typical_note)
    typical_note: str

    @property
    def available(self) -> bool:
        return not self.unavailable_reason


# What a developer reads about a template that cannot be requested: the reason names a setting only
# DevOps and admins can change (they see it, and the console's template list and `make run`'s banner say it).
FOR_DEVELOPERS = "Not available yet; your platform team has been told."


def unavailable_text(reason: str | None, *, user) -> str:
    """Why a template cannot be requested, as ``user`` should read it (empty when it can be)."""
    if not reason:
        return ""
    return reason if roles.is_reviewer(user) else FOR_DEVELOPERS


def typical_estimate(template: Template) -> tuple[Decimal | None, str]:
    """The price of the plan of the default parameters for the default lifetime, as the API would
    estimate it (a required parameter without a default takes its schema's example)."""
    try:
        planned = planning.plan(
            provider=template.provider,
            body=template.body,
            schema=template.parameters_schema,
            parameters=planning.example_parameters(template.parameters_schema),
        )
        estimate = planning.price(planned.plan, template.default_lifetime_hours)
    except ValidationError as exc:
        return None, "; ".join(exc.messages)
    if not estimate.line_items:
        return None, " ".join(estimate.notes) or "Not estimated in advance."
    return estimate.usd, f"{template.default_lifetime_hours} hours with the default parameters"


def active_templates():
    """Only active templates can be requested, whoever asks (admins see the others in the console)."""
    return Template.objects.filter(is_active=True).order_by("name", "id")


def entries(*, user) -> list[Entry]:
    reasons: dict[str, str] = {}  # asked once per provider
    found = []
    for template in active_templates():
        if template.provider not in reasons:
            reasons[template.provider] = unavailable_text(selectors.unavailable_reason(template), user=user)
        usd, note = typical_estimate(template)
        found.append(Entry(template, reasons[template.provider], usd, note))
    return found


def provisional_estimate(*, actor, template: Template, parameters: dict, hours) -> dict:
    """While the form is still incomplete: the plan and price of what is filled in so far (the
    schema's defaults and examples for the rest, and for the values that do not validate yet) and
    the quota preview, from the same planner and quota check as ``estimate_request``. Raises a
    ValidationError when they cannot be planned."""
    filled = {**planning.example_parameters(template.parameters_schema), **parameters}
    try:
        planned = _plan(template, filled)
    except ValidationError as exc:
        # The values that do not validate yet are left to their defaults and examples.
        wrong = {path.split(".", 1)[1].split(".")[0] for path in _fields(exc) if path.startswith("parameters.")}
        if not wrong & set(parameters):
            raise
        kept = {name: value for name, value in parameters.items() if name not in wrong}
        planned = _plan(template, {**planning.example_parameters(template.parameters_schema), **kept})
    estimate = planning.price(planned.plan, hours)
    return {
        "plan": planned.plan.as_dict(),
        "estimate": estimate.as_dict(),
        "quota": quota_services.preview(user=actor, amounts=estimate.reservation()),
    }


def _plan(template: Template, parameters: dict):
    return planning.plan(
        provider=template.provider, body=template.body, schema=template.parameters_schema, parameters=parameters
    )


def _fields(exc: ValidationError) -> list[str]:
    return list(exc.message_dict) if hasattr(exc, "error_dict") else []
