"""cloudassist/mongodb/compiler.py: what the select compiler changes in the backend's reads."""

import json

import pytest
from django.db.models import JSONField
from django.db.models.fields.json import KeyTransform

from cloudassist import roles
from configs import services as config_services
from configs.models import Config

DATA = {
    "text": "é ✓ \t end",
    "numbers": [0, -1, 2**40, 1.5, -0.0, 1e300],
    "nested": {"list": [{"a": None}, [], {}], "flag": True, "off": False},
    "empty": "",
}


@pytest.fixture
def stored(dev_user):
    return config_services.create(
        actor=dev_user, name="compiler.json", data=DATA, labels={"k": "v"}, read_roles=[roles.DEV], write_roles=[]
    )


def _json_converters(queryset, name):
    compiler = queryset.query.get_compiler(using="default")
    compiler.setup_query()
    columns = [column for column, _, _ in compiler.select]
    converters = compiler.get_converters(columns)
    return [
        functions for position, (functions, expression) in converters.items() if columns[position].target.name == name
    ]


@pytest.mark.django_db
def test_plain_json_columns_come_back_as_bson_decoded_them_without_a_json_round_trip(stored, monkeypatch):
    assert _json_converters(Config.objects.filter(pk=stored.pk), "data") == []  # no converter at all
    encoded = []
    real_dumps = json.dumps
    monkeypatch.setattr(json, "dumps", lambda value, *a, **k: encoded.append(value) or real_dumps(value, *a, **k))

    loaded = Config.objects.get(pk=stored.pk)
    assert loaded.data == DATA
    assert loaded.labels == {"k": "v"}
    assert loaded.schema is None
    assert Config.objects.filter(pk=stored.pk).values_list("data", flat=True).get() == DATA
    assert encoded == []  # the backend re-encoded nothing


@pytest.mark.django_db
def test_key_transforms_and_custom_decoders_keep_the_backends_converters(stored, monkeypatch):
    annotated = Config.objects.filter(pk=stored.pk).annotate(nested=KeyTransform("nested", "data"))
    assert annotated.get().nested == DATA["nested"]
    assert annotated.values_list("nested", flat=True).get() == DATA["nested"]

    class Decoder(json.JSONDecoder):
        pass

    monkeypatch.setattr(Config._meta.get_field("data"), "decoder", Decoder)
    assert len(_json_converters(Config.objects.filter(pk=stored.pk), "data")[0]) == 2
    assert Config.objects.get(pk=stored.pk).data == DATA
    assert isinstance(Config._meta.get_field("data"), JSONField)
