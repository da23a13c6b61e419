"""The form drawn from a JSON Schema (pure: no database)."""

from django import forms
from django.core.exceptions import ValidationError

from portal.forms.schema import add_schema_errors, parameters_form_class
from templates.seed import BASIC_EKS_CLUSTER, S3_BUCKET

SCHEMA = {
    "type": "object",
    "required": ["name", "size"],
    "properties": {
        "name": {"type": "string", "title": "Cluster name", "description": "Lower-case.", "maxLength": 20},
        "region": {"type": "string", "enum": ["us-east-1", "eu-west-1"], "default": "eu-west-1"},
        "size": {"type": "integer", "minimum": 1, "maximum": 10, "multipleOf": 2, "default": 2},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "versioning": {"type": "boolean", "default": True},
        "zones": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "default": ["a"]},
        "labels": {"type": "object"},
    },
}


def _form(data=None):
    return parameters_form_class(SCHEMA)(data)


def test_each_property_becomes_a_field_in_the_schemas_order():
    assert list(_form().fields) == ["name", "region", "size", "ratio", "versioning", "zones", "labels"]


def test_enums_are_selects_with_the_default_chosen():
    field = _form().fields["region"]
    assert isinstance(field, forms.TypedChoiceField)
    assert isinstance(field.widget, forms.Select)
    assert [value for value, _ in field.choices] == ["us-east-1", "eu-west-1"]  # a default: no blank choice
    assert field.initial == "eu-west-1"
    assert 'value="eu-west-1" selected' in str(_form()["region"])


def test_integers_and_numbers_carry_bounds_and_step():
    size = _form().fields["size"]
    assert isinstance(size, forms.IntegerField)
    assert size.widget.attrs | {} == {"required": True, "min": 1, "max": 10, "step": 2}
    assert size.initial == 2
    ratio = _form().fields["ratio"]
    assert isinstance(ratio, forms.FloatField)
    assert ratio.widget.attrs == {"min": 0, "max": 1, "step": "any"}
    html = str(_form()["size"])
    assert 'type="number"' in html
    assert 'min="1"' in html
    assert 'max="10"' in html
    assert 'step="2"' in html


def test_booleans_are_checkboxes_with_their_default():
    field = _form().fields["versioning"]
    assert isinstance(field.widget, forms.CheckboxInput)
    assert field.initial is True
    assert "checked" in str(_form()["versioning"])


def test_title_is_the_label_description_the_help_and_required_is_marked():
    form = _form()
    assert form.fields["name"].label == "Cluster name"
    assert form.fields["name"].help_text == "Lower-case."
    assert form.fields["region"].label == "Region"  # no title: the name, readable
    assert form.fields["name"].schema_required
    assert form.fields["size"].schema_required
    assert not form.fields["region"].schema_required
    assert 'maxlength="20"' in str(form["name"])
    assert "required" in str(form["name"])


def test_arrays_of_enums_are_checkboxes_and_other_values_json():
    form = _form()
    assert isinstance(form.fields["zones"], forms.TypedMultipleChoiceField)
    assert form.fields["zones"].initial == ["a"]
    assert isinstance(form.fields["labels"], forms.JSONField)


def test_posted_text_becomes_json_values_and_empty_fields_are_left_out():
    form = _form({"name": "", "region": "us-east-1", "size": "4", "ratio": "0.5", "zones": ["b", "c"]})
    assert form.is_valid(), form.errors
    # name left out (the validator says it is required); an unchecked box is false
    assert form.parameters() == {
        "region": "us-east-1",
        "size": 4,
        "ratio": 0.5,
        "versioning": False,
        "zones": ["b", "c"],
    }


def test_text_that_is_not_a_number_is_refused_beside_the_field():
    form = _form({"size": "many"})
    assert not form.is_valid()
    assert form.errors["size"] == ["Enter a whole number."]


def test_bounds_are_left_to_the_schema_validator():
    form = _form({"size": "99"})
    assert form.is_valid()  # the API's validator (templates.rendering) reports it, with its message
    assert form.parameters()["size"] == 99


def test_the_validators_errors_go_beside_their_field():
    form = _form({"size": "99"})
    form.is_valid()
    rest = add_schema_errors(
        form,
        ValidationError(
            {
                "parameters.size": ["99 is greater than the maximum of 10"],
                "parameters.labels.team": ["'x' is not of type 'integer'"],
                "parameters.nope": ["Unknown parameter"],
                "body": ["Template failed to render"],
            }
        ),
    )
    assert form.errors["size"] == ["99 is greater than the maximum of 10"]
    assert form.errors["labels"] == ["team: 'x' is not of type 'integer'"]
    assert rest == ["nope: Unknown parameter", "Template failed to render"]


def test_the_seed_templates_draw_complete_forms():
    eks = parameters_form_class(BASIC_EKS_CLUSTER["parameters_schema"])()
    assert list(eks.fields) == ["cluster_name", "region", "instance_type", "desired_capacity", "volume_size"]
    assert eks.fields["volume_size"].help_text == "Node root volume size in GiB."
    bucket = parameters_form_class(S3_BUCKET["parameters_schema"])()
    assert isinstance(bucket.fields["versioning"], forms.BooleanField)
    assert bucket.fields["versioning"].initial is False
