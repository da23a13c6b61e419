"""Serializer fields for MongoDB: ObjectIds travel as 24-character hex strings."""

from urllib.parse import quote

from bson import ObjectId
from bson.errors import InvalidId
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.reverse import reverse


class ObjectIdField(serializers.CharField):
    """An ObjectId rendered as a string and parsed back, with a clear error when malformed."""

    default_error_messages = {"invalid_object_id": "“{value}” is not a valid id (24 hexadecimal characters)."}

    def __init__(self, **kwargs):
        kwargs.setdefault("min_length", 24)
        kwargs.setdefault("max_length", 24)
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        return str(value)

    def to_internal_value(self, data) -> ObjectId:
        text = super().to_internal_value(data)
        try:
            return ObjectId(text)
        except (InvalidId, TypeError):
            self.fail("invalid_object_id", value=text)


# --- hyperlinks, reversed once per request ----------------------------------------------------

_PLACEHOLDER = "00cloudassist0url0placeholder00"


def cached_url(request, view_name: str, kwarg: str, value, format=None) -> str:
    """``reverse(view_name, kwargs={kwarg: value}, request=request)``, with the URL pattern reversed
    once per request and view name and the value put in by string replacement. Reversing (route
    matching, quoting, the absolute URI) was half the time of a list page: six links a row."""
    if request is None:
        return reverse(view_name, kwargs={kwarg: value}, format=format)
    cache = request.__dict__.setdefault("_cloudassist_url_templates", {})
    key = (view_name, kwarg, format)
    template = cache.get(key)
    if template is None:
        template = cache[key] = reverse(view_name, kwargs={kwarg: _PLACEHOLDER}, request=request, format=format)
    return template.replace(_PLACEHOLDER, quote(str(value), safe=""))


def related_list_url(request, view_name: str, query: str) -> str:
    """A list URL with a query string (``...?provision_request=<id>``), reversed once per request."""
    if request is None:
        return f"{reverse(view_name)}?{query}"
    cache = request.__dict__.setdefault("_cloudassist_url_templates", {})
    if view_name not in cache:
        cache[view_name] = reverse(view_name, request=request)
    return f"{cache[view_name]}?{query}"


class CachedUrlMixin:
    def get_url(self, obj, view_name, request, format):
        if hasattr(obj, "pk") and obj.pk in (None, ""):
            return None
        return cached_url(request, view_name, self.lookup_url_kwarg, getattr(obj, self.lookup_field), format)


class LinkField(CachedUrlMixin, serializers.HyperlinkedRelatedField):
    """A related object as its URL (DRF's HyperlinkedRelatedField, reversed once per request).

    Null when the relation is (the model field is nullable), and the OpenAPI schema says so."""

    def bind(self, field_name, parent):
        super().bind(field_name, parent)
        model = getattr(getattr(parent, "Meta", None), "model", None)
        if model is not None and "." not in self.source:
            try:
                model_field = model._meta.get_field(self.source)
            except FieldDoesNotExist:  # a property or a method, not a model field
                model_field = None
            if model_field is not None and model_field.null:
                self.allow_null = True


class SelfLinkField(CachedUrlMixin, serializers.HyperlinkedIdentityField):
    """The object's own ``url`` (DRF's HyperlinkedIdentityField, reversed once per request)."""


class IdOrHyperlinkField(CachedUrlMixin, serializers.HyperlinkedRelatedField):
    """A related object written as its id (or its URL) and read back as its URL.

    ``queryset`` may be a callable taking the request, so a user can only point at objects
    they can see; anything else is "unknown", never a hint that it exists.
    """

    default_error_messages = {
        "unknown": "Unknown {noun} '{value}'.",
        "invalid_id": "“{value}” is not a valid {noun} id.",
        "incorrect_type": "Expected the {noun}'s id (a string), got {data_type}.",
    }

    def __init__(self, *, noun: str, scope=None, **kwargs):
        self.noun = noun
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        if self.scope is not None:
            return self.scope(self.context["request"])
        return super().get_queryset()

    def lookup(self, queryset, value):
        """The object with id ``value`` (a subclass may answer from a cache)."""
        return queryset.get(pk=value)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("incorrect_type", noun=self.noun, data_type=type(data).__name__)
        value = data.strip()
        if "/" in value:  # a URL: the last path segment is the id
            value = value.rstrip("/").rsplit("/", 1)[-1]
        queryset = self.get_queryset()
        try:
            return self.lookup(queryset, value)
        except queryset.model.DoesNotExist:
            self.fail("unknown", noun=self.noun, value=value)
        except (DjangoValidationError, InvalidId, TypeError, ValueError):
            self.fail("invalid_id", noun=self.noun, value=value)
