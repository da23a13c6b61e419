import pytest
from django.core.exceptions import ValidationError

from templates import rendering
from templates.seed import BASIC_EKS_CLUSTER, DEV_NAMESPACE

EKS_BODY = BASIC_EKS_CLUSTER["body"]
EKS_SCHEMA = BASIC_EKS_CLUSTER["parameters_schema"]


def errors_of(call) -> dict:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.message_dict


def test_renders_the_seed_eks_cluster_with_defaults():
    result = rendering.render(body=EKS_BODY, schema=EKS_SCHEMA, parameters={"cluster_name": "team-a"})
    assert result.parameters == {
        "cluster_name": "team-a",
        "region": "us-east-1",
        "instance_type": "t3.medium",
        "desired_capacity": 2,
        "volume_size": 20,
    }
    (config,) = result.manifests
    assert config["kind"] == "ClusterConfig"
    assert config["metadata"] == {"name": "team-a", "region": "us-east-1"}
    assert config["managedNodeGroups"][0]["desiredCapacity"] == 2


def test_renders_the_namespace_as_three_manifests():
    result = rendering.render(
        body=DEV_NAMESPACE["body"], schema=DEV_NAMESPACE["parameters_schema"], parameters={"namespace": "dev-x"}
    )
    assert [doc["kind"] for doc in result.manifests] == ["Namespace", "ResourceQuota", "LimitRange"]
    assert result.manifests[1]["spec"]["hard"]["limits.memory"] == "4Gi"


def test_missing_required_parameter_is_named():
    errors = errors_of(lambda: rendering.render(body=EKS_BODY, schema=EKS_SCHEMA, parameters={}))
    assert errors == {"parameters.cluster_name": ["Cluster name is required."]}


def test_unknown_parameter_is_named():
    errors = errors_of(
        lambda: rendering.render(body=EKS_BODY, schema=EKS_SCHEMA, parameters={"cluster_name": "ab1", "colour": 1})
    )
    assert list(errors) == ["parameters.colour"]
    assert "Unknown parameter" in errors["parameters.colour"][0]


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("desired_capacity", "2", "Desired capacity must be a whole number."),
        ("desired_capacity", True, "Desired capacity must be a whole number."),
        ("desired_capacity", 11, "Desired capacity must be at most 10."),
        ("volume_size", 5, "Volume size must be at least 20."),
        ("region", "mars-1", "Region must be one of: us-east-1"),
        ("cluster_name", "Bad_Name", "Cluster name must match the required format"),
    ],
)
def test_ill_typed_or_out_of_range_parameters_are_named(name, value, fragment):
    parameters = {"cluster_name": "ok-name", name: value}
    errors = errors_of(lambda: rendering.render(body=EKS_BODY, schema=EKS_SCHEMA, parameters=parameters))
    assert list(errors) == [f"parameters.{name}"]
    assert fragment in errors[f"parameters.{name}"][0]


def test_parameters_must_be_an_object():
    errors = errors_of(lambda: rendering.render(body=EKS_BODY, schema=EKS_SCHEMA, parameters=["x"]))
    assert list(errors) == ["parameters"]


def test_whole_float_integers_render_as_integers():
    result = rendering.render(body=EKS_BODY, schema=EKS_SCHEMA, parameters={"cluster_name": "abc", "volume_size": 30.0})
    assert "volumeSize: 30\n" in result.document


SCHEMA_X = {"type": "object", "properties": {"x": {"type": "string", "default": "v"}}}


@pytest.mark.parametrize(
    "body",
    [
        "a: {{ ''.__class__.__mro__ }}",
        "a: {{ x.__class__.__base__.__subclasses__() }}",
        "a: {{ x.upper.__globals__ }}",
        "{% set y = x.__init__ %}a: {{ y }}",
    ],
)
def test_sandbox_escapes_are_refused(body):
    errors = errors_of(lambda: rendering.render(body=body, schema=SCHEMA_X, parameters={}))
    assert list(errors) == ["body"]
    assert "sandbox" in errors["body"][0] or "Undefined" in errors["body"][0]


def test_parameter_values_are_data_not_template_code():
    result = rendering.render(body="a: '{{ x }}'", schema=SCHEMA_X, parameters={"x": "{{ 7*7 }}"})
    assert result.manifests == [{"a": "{{ 7*7 }}"}]


def test_bad_yaml_is_refused_with_its_position():
    schema = {"type": "object", "properties": {"x": {"type": "string"}}}
    errors = errors_of(lambda: rendering.render(body="a: [{{ x }}\nb: 1", schema=schema, parameters={"x": "1"}))
    assert "not valid YAML" in errors["body"][0]
    assert "line" in errors["body"][0]


@pytest.mark.parametrize(("body", "message"), [("", "empty"), ("- 1\n- 2", "not a mapping"), ("just text", "mapping")])
def test_rendered_documents_must_be_mappings(body, message):
    errors = errors_of(lambda: rendering.render(body=body, schema={"type": "object"}, parameters={}))
    assert message in errors["body"][0]


def test_output_size_is_bounded():
    body = "a: {% for i in range(100000) %}{% for j in range(100) %}xxxxxxxxxx{% endfor %}{% endfor %}"
    errors = errors_of(lambda: rendering.render(body=body, schema={"type": "object"}, parameters={}))
    assert "exceeds" in errors["body"][0]


def test_definition_checks_schema_placeholders_syntax_and_lifetimes():
    ok = {"body": "a: {{ x }}", "parameters_schema": SCHEMA_X, "default_lifetime_hours": 1, "max_lifetime_hours": 2}
    rendering.check_definition(**ok)
    cases = [
        ({"parameters_schema": {"type": "object", "properties": {"x": {"type": "strin"}}}}, "parameters_schema"),
        ({"parameters_schema": {"type": "array"}}, "parameters_schema"),
        ({"parameters_schema": []}, "parameters_schema"),
        ({"body": "a: {{ y }}"}, "body"),
        ({"body": "a: {{ x "}, "body"),
        ({"default_lifetime_hours": 3}, "default_lifetime_hours"),
    ]
    for change, field in cases:
        errors = errors_of(lambda change=change: rendering.check_definition(**{**ok, **change}))
        assert list(errors) == [field], change


def test_undeclared_placeholder_error_names_it():
    errors = errors_of(lambda: rendering.check_body("a: {{ nope }} {{ range(2) | list }}", SCHEMA_X))
    assert errors == {"body": ["Placeholders not declared in parameters_schema.properties: nope"]}


@pytest.mark.parametrize(
    ("parameters", "path", "fragment"),
    [
        ({"cluster_name": "ok-name", "desired_capacity": 2**63}, "parameters.desired_capacity", "64-bit"),
        ({"cluster_name": "a\x00b"}, "parameters.cluster_name", "NUL"),
        ({"cluster_name": "\ud800"}, "parameters.cluster_name", "lone surrogate"),
    ],
)
def test_parameters_mongodb_cannot_store_are_named(parameters, path, fragment):
    # The API's parser refuses these already; the portal's forms reach here without it.
    errors = errors_of(lambda: rendering.render(body=EKS_BODY, schema=EKS_SCHEMA, parameters=parameters))
    assert list(errors) == [path]
    assert fragment in errors[path][0]


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "object", "properties": {"x": {"$ref": "http://127.0.0.1:9/x.json"}}}, "only references inside"),
        (
            {"type": "object", "$defs": {"a": {"$ref": "#/$defs/a"}}, "properties": {"x": {"$ref": "#/$defs/a"}}},
            "cycle",
        ),
        ({"type": "object", "properties": {"x": {"maximum": 2**64}}}, "64-bit"),
    ],
)
def test_a_schema_that_cannot_be_used_or_stored_is_refused_when_saved(schema, fragment):
    errors = errors_of(lambda: rendering.check_schema(schema))
    assert len(errors) == 1
    assert fragment in " ".join(message for messages in errors.values() for message in messages)


def test_a_schema_saved_before_its_refs_were_checked_is_a_400_not_a_500():
    looping = {"type": "object", "$defs": {"a": {"$ref": "#/$defs/a"}}, "properties": {"x": {"$ref": "#/$defs/a"}}}
    errors = errors_of(lambda: rendering.render(body="x: {{ x }}", schema=looping, parameters={"x": 1}))
    assert list(errors) == ["parameters_schema"]
