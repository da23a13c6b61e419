"""The request form of one template: its parameters (drawn from the JSON Schema) plus the
description, the request type and the lifetime, within the template's bounds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.forms.schema import ParametersForm, add_schema_errors, parameters_form_class
from provisioning.choices import RequestType
from templates.models import Template

DESCRIPTION_MAX_LENGTH = 5000  # the API's NOTE_MAX_LENGTH
# The lifetimes offered (hours), besides the template's default and maximum.
LIFETIME_STEPS = (1, 2, 4, 8, 12, 24, 48, 72, 120, 168, 336, 720, 1440, 2160, 4380, 8760)
DETAILS_ERRORS = {"expires_at": "lifetime_hours", "description": "description", "request_type": "request_type"}


def _hours_label(hours: int) -> str:
    if hours % 168 == 0:
        return f"{hours // 168} week{'s' if hours != 168 else ''} ({hours} hours)"
    if hours % 24 == 0:
        return f"{hours // 24} day{'s' if hours != 24 else ''} ({hours} hours)"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def lifetime_choices(template: Template) -> list[tuple[int, str]]:
    """Up to the template's maximum lifetime, its default and maximum included."""
    hours = {step for step in LIFETIME_STEPS if step <= template.max_lifetime_hours}
    hours |= {template.default_lifetime_hours, template.max_lifetime_hours}
    return [
        (value, _hours_label(value) + (" · default" if value == template.default_lifetime_hours else ""))
        for value in sorted(hours)
    ]


class DetailsForm(forms.Form):
    required_css_class = "required"

    description = forms.CharField(
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What it is for; the reviewers read it.",
    )
    request_type = forms.ChoiceField(
        choices=RequestType.choices,
        initial=RequestType.TEMPORARY,
        help_text="Permanent environments never expire and are approved by DevOps or admins only.",
    )
    lifetime_hours = forms.TypedChoiceField(
        label="Lifetime", coerce=int, help_text="It is purged when its lifetime is over (temporary requests)."
    )

    def __init__(self, *args, template: Template, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lifetime_hours"].choices = lifetime_choices(template)
        self.fields["lifetime_hours"].initial = template.default_lifetime_hours


class RequestForm:
    """Both forms of a request page, validated together; ``submission()`` answers the keyword
    arguments of ``provisioning.services.submit_request`` / ``estimate_request``."""

    def __init__(self, template: Template, data=None):
        self.template = template
        self.parameters: ParametersForm = parameters_form_class(template.parameters_schema)(data, prefix="p")
        self.details = DetailsForm(data, template=template)
        self.errors: list[str] = []  # errors that belong to no field

    def is_valid(self) -> bool:
        return all([self.parameters.is_valid(), self.details.is_valid()])

    def submission(self, *, now: datetime | None = None) -> dict[str, Any]:
        request_type = self.details.cleaned_data["request_type"]
        expires_at = None
        if request_type == RequestType.TEMPORARY:
            expires_at = (now or timezone.now()) + timedelta(hours=self.details.cleaned_data["lifetime_hours"])
        return {
            "template": self.template,
            "parameters": self.parameters.parameters(),
            "description": self.details.cleaned_data["description"],
            "request_type": request_type,
            "expires_at": expires_at,
        }

    def add_error(self, error: ValidationError | str) -> None:
        """Place a service's error: parameters beside their field, expiry at the lifetime, the rest on top."""
        if isinstance(error, str):
            self.errors.append(error)
            return
        if not hasattr(error, "error_dict"):
            self.errors.extend(error.messages)
            return
        others = {}
        for key, errors in error.error_dict.items():  # the errors themselves: their codes go along
            if key in DETAILS_ERRORS:
                for one in errors:
                    self.details.add_error(DETAILS_ERRORS[key], one)
            else:
                others[key] = errors
        self.errors.extend(add_schema_errors(self.parameters, ValidationError(others)))

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.parameters.errors or self.details.errors)
