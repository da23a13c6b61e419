"""Render, plan, price: what a template's rendered document becomes, through its provider's plugin.

The same three steps serve a dry run (``POST /api/v1/templates/{id}/plan/``), the portal's live
estimate, a submission (which stores the plan and the estimate of that plan on the request), and
the check when a template is saved (rendered with its schema's defaults and examples, planned and
priced, every error naming its path). Nothing here keeps a default of its own: the template's
parameter schema fills in the parameters, the plugin's document schema the document.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

import providers
from providers.base import Plan, ProviderError
from quotas.estimates import Estimate, Prices, hours_of
from templates import rendering

#: At most this many parameter sets are tried when a template is saved (defaults, then each example).
MAX_CHECKED_EXAMPLES = 8


@dataclass(frozen=True)
class Planned:
    rendered: rendering.Rendered
    plan: Plan


def plugin(provider: str) -> providers.Provider:
    """The plugin of ``provider``; a ValidationError on ``provider`` naming the registered ones."""
    if provider not in providers.names():
        raise ValidationError(
            {"provider": [f"'{provider}' is not a provider; one of: {', '.join(providers.names())}."]}
        )
    return providers.get(provider)


def plan_document(*, provider: str, manifests: list[dict[str, Any]], request_id: str | None = None) -> Plan:
    try:
        return plugin(provider).plan(manifests, request_id=request_id)
    except ProviderError as exc:  # a plugin's own check that is not a schema error
        raise ValidationError({"body": [str(exc)]}) from exc


def plan(*, provider: str, body: str, schema: dict, parameters: Any, request_id: str | None = None) -> Planned:
    """Validate ``parameters`` (defaults filled in), render ``body`` and plan the document."""
    rendered = rendering.render(body=body, schema=schema, parameters=parameters)
    return Planned(rendered, plan_document(provider=provider, manifests=rendered.manifests, request_id=request_id))


def price(plan: Plan, hours: Decimal | float | int, prices: Prices | None = None) -> Estimate:
    """The estimate of exactly ``plan`` over ``hours``, from the price tables."""
    return plugin(plan.provider).estimate(plan, hours_of(hours), prices or Prices())


def example_parameters(schema: dict) -> dict[str, Any]:
    """The parameters a template is checked (and its typical cost estimated) with: each one's first
    example; a required one without a default or example gets its first enum value, minimum or a
    placeholder of its type; an optional one without either is left out, as a request would."""
    required = set(schema.get("required") or []) if isinstance(schema, dict) else set()
    filled = rendering.example_parameters(schema)
    chosen: dict[str, Any] = {}
    for name, spec in rendering.properties_of(schema).items():
        if not isinstance(spec, dict):
            continue
        if spec.get("examples") and isinstance(spec["examples"], list):
            chosen[name] = copy.deepcopy(spec["examples"][0])
        elif name in required and "default" not in spec and name in filled:
            chosen[name] = filled[name]
    return chosen


def example_parameter_sets(schema: dict) -> list[dict[str, Any]]:
    """What a template is checked with when saved: its defaults and first examples, then the same
    with each further example of each parameter."""
    base = example_parameters(schema)
    sets = [base]
    for name, spec in rendering.properties_of(schema).items():
        examples = spec.get("examples") if isinstance(spec, dict) else None
        for example in (examples if isinstance(examples, list) else [])[1:]:
            if len(sets) >= MAX_CHECKED_EXAMPLES:
                return sets
            sets.append({**copy.deepcopy(base), name: copy.deepcopy(example)})
    return sets


def _missing_examples(error: ValidationError) -> ValidationError:
    """An example set that does not validate: say which parameter needs a default or an example."""
    fields = getattr(error, "message_dict", {})
    for path in fields:
        if path.startswith("parameters."):
            name = path.split(".", 1)[1].split(".")[0]
            return ValidationError(
                {
                    f"parameters_schema.properties.{name}": [
                        'Give this parameter a default or an example ("examples": [...]) that its schema '
                        f"accepts, so that the template can be rendered and checked when it is saved "
                        f"({'; '.join(fields[path])})."
                    ]
                }
            )
    return error


def _while_checking(error: ValidationError, parameters: dict[str, Any]) -> ValidationError:
    """Say what the template was rendered with when saving it found a problem."""
    shown = ", ".join(f"{name}={value!r}" for name, value in parameters.items()) or "no parameters"
    context = f" (rendered with its defaults and examples: {shown})"
    fields = getattr(error, "message_dict", None)
    if not fields:
        return error
    # Errors at a path of the document name it already; a render error ("body") gets the context.
    return ValidationError(
        {
            path: [message + context if path == "body" else message for message in messages]
            for path, messages in fields.items()
        }
    )


def check_template(*, provider: str, body: str, schema: dict, lifetime_hours: int) -> tuple[Planned, Estimate]:
    """What saving a template checks beyond its syntax: rendered with each example parameter set,
    the document is the plugin's, it plans, and its plan can be priced. Returns the default
    render's plan and estimate (the console shows them)."""
    plugin(provider)
    first = None
    for parameters in example_parameter_sets(schema):
        try:
            resolved = rendering.resolve_parameters(schema, parameters)
        except ValidationError as exc:
            raise _missing_examples(exc) from exc
        try:
            planned = plan(provider=provider, body=body, schema=schema, parameters=resolved)
            estimate = price(planned.plan, lifetime_hours)
        except ValidationError as exc:
            raise _while_checking(exc, parameters) from exc
        if first is None:
            first = (planned, estimate)
    assert first is not None
    return first
