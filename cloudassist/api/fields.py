"""Serializer fields for MongoDB: ObjectIds travel as 24-character hex strings."""

from bson import ObjectId
from bson.errors import InvalidId
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers


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


class IdOrHyperlinkField(serializers.HyperlinkedRelatedField):
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

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("incorrect_type", noun=self.noun, data_type=type(data).__name__)
        value = data.strip()
        if "/" in value:  # a URL: the last path segment is the id
            value = value.rstrip("/").rsplit("/", 1)[-1]
        queryset = self.get_queryset()
        try:
            return queryset.get(pk=value)
        except queryset.model.DoesNotExist:
            self.fail("unknown", noun=self.noun, value=value)
        except (DjangoValidationError, InvalidId, TypeError, ValueError):
            self.fail("invalid_id", noun=self.noun, value=value)
