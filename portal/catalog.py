"""The catalog: the active templates, whether each can be requested now (and why not), and what
it typically costs (its default parameters for its default lifetime)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

from quotas import estimates
from quotas import services as quota_services
from templates import selectors
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


def default_parameters(schema) -> dict:
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    return {
        name: spec["default"]
        for name, spec in (properties.items() if isinstance(properties, dict) else [])
        if isinstance(spec, dict) and "default" in spec
    }


def typical_estimate(template: Template) -> tuple[Decimal | None, str]:
    """The price of the default parameters for the default lifetime, as the API would estimate it."""
    try:
        estimate = estimates.estimate(
            provider=template.provider,
            parameters=default_parameters(template.parameters_schema),
            hours=template.default_lifetime_hours,
        )
    except ValidationError as exc:
        return None, "; ".join(exc.messages)
    if not estimate.line_items:
        return None, " ".join(estimate.notes) or "Not estimated in advance."
    return estimate.usd, f"{template.default_lifetime_hours} hours with the default parameters"


def active_templates():
    """Only active templates can be requested, whoever asks (admins see the others in the console)."""
    return Template.objects.filter(is_active=True).order_by("name", "id")


def entries() -> list[Entry]:
    reasons: dict[str, str] = {}  # asked once per provider
    found = []
    for template in active_templates():
        if template.provider not in reasons:
            reasons[template.provider] = selectors.unavailable_reason(template) or ""
        usd, note = typical_estimate(template)
        found.append(Entry(template, reasons[template.provider], usd, note))
    return found


def provisional_estimate(*, actor, template: Template, parameters: dict, hours) -> dict:
    """While the form is still incomplete: the price of what is filled in so far (the schema's
    defaults for the rest) and the quota preview, from the same estimator and quota check as
    ``estimate_request``. Raises the estimator's ValidationError when it cannot price them."""
    estimate = estimates.estimate(
        provider=template.provider,
        parameters={**default_parameters(template.parameters_schema), **parameters},
        hours=hours,
    )
    return {"estimate": estimate.as_dict(), "quota": quota_services.preview(user=actor, amounts=estimate.reservation())}
