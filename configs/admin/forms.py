"""The admin's forms. They validate what was typed; the write, and what only the write can tell
(the compare-and-set, the schema, the size limit, who may write), is configs/admin/writes.py."""

from __future__ import annotations

import json

from django import forms
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

from cloudassist.content import problem
from configs.models import Config

MAX_TTL = 100 * 366 * 24 * 3600  # a century: larger ones overflow the expiry date
TTL_HELP_ADD = "Seconds from now until the entry is gone (session data). Empty or 0: never."
TTL_HELP_CHANGE = "Seconds from now until the entry is gone. Empty: keep the current expiry; 0: never expires."


class PrettyJSONField(forms.JSONField):
    """A JSON textarea, indented; ``blank_is_none`` shows None as an empty box instead of ``null``."""

    def __init__(self, *, blank_is_none: bool = False, rows: int = 12, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget",
            forms.Textarea(attrs={"rows": rows, "cols": 90, "class": "vLargeTextField", "spellcheck": "false"}),
        )
        super().__init__(**kwargs)
        self.blank_is_none = blank_is_none

    def prepare_value(self, value):
        if isinstance(value, InvalidJSONInput):
            return value
        if value is None and self.blank_is_none:
            return ""
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)

    def to_python(self, value):
        value = super().to_python(value)
        found = problem(value)
        if found is not None:  # what MongoDB cannot store (a NUL, a lone surrogate, 2**63): cloudassist/content.py
            path, reason = found
            raise ValidationError(f"{path}: {reason}" if path else f"The value {reason}", code="invalid")
        return str(value) if isinstance(value, str) else value  # a plain str, not forms' JSONString

    def bound_data(self, data, initial):
        bound = super().bound_data(data, initial)
        # Shown again as typed: a lone surrogate cannot be written into the page.
        return InvalidJSONInput(data) if problem(bound) is not None and isinstance(data, str) else bound


class ConfigForm(forms.ModelForm):
    data = PrettyJSONField(help_text="Any JSON value; empty means null.", rows=16)
    schema = PrettyJSONField(
        blank_is_none=True, rows=8, help_text="Optional JSON Schema (draft 2020-12) the data must satisfy."
    )
    labels = PrettyJSONField(rows=3, help_text='String labels, e.g. {"env": "prod"}.')
    read_roles = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="Roles that may read it (writers may too)."
    )
    write_roles = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="Roles that may change it."
    )
    ttl = forms.IntegerField(
        label="TTL (seconds)",
        required=False,
        min_value=0,
        max_value=MAX_TTL,
        help_text=TTL_HELP_ADD,
    )
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Config
        fields = ["name", "data", "schema", "labels", "read_roles", "write_roles"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = set(self.instance.read_roles or []) | set(self.instance.write_roles or [])
        names = sorted(set(Group.objects.values_list("name", flat=True)) | current)
        for field in ("read_roles", "write_roles"):
            if field in self.fields:
                self.fields[field].choices = [(name, name) for name in names]
        if self.instance.pk is not None:
            # The version the user sees; posted back as If-Match.
            self.initial["loaded_version"] = self.instance.version
            self.fields["ttl"].help_text = TTL_HELP_CHANGE

    def clean_labels(self):
        labels = self.cleaned_data.get("labels")
        return {} if labels is None else labels  # an empty box: no labels

    def clean_loaded_version(self):
        version = self.cleaned_data.get("loaded_version")
        if self.instance.pk is not None and version is None:
            raise ValidationError("The form lost the version it was loaded at; reload the page.")
        return version

    def clean(self):
        # Not ModelForm.clean(): that would check the name's uniqueness here, where an expired entry
        # still holds it. The write decides (configs.services.create makes room, or refuses).
        return self.cleaned_data

    @property
    def edited(self) -> bool:
        """Whether the user changed anything (the hidden version does not count)."""
        return bool(set(self.changed_data) - {"loaded_version"})


class RollbackForm(forms.Form):
    current_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
