"""Serializer fields for MongoDB: ObjectIds travel as 24-character hex strings."""

from bson import ObjectId
from bson.errors import InvalidId
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
