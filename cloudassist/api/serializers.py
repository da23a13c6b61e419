"""The one base serializer every app's API uses."""

import copy
from typing import ClassVar
from urllib.parse import quote

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django_mongodb_backend.fields import ObjectIdAutoField
from django_mongodb_backend.fields import ObjectIdField as ModelObjectIdField
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse
from rest_framework.utils import html

from cloudassist import roles
from cloudassist.api.fields import LinkField, ObjectIdField, SelfLinkField
from cloudassist.models import ApiToken

User = get_user_model()


class BaseModelSerializer(serializers.HyperlinkedModelSerializer):
    """Hyperlinked model serializer that renders ObjectId primary keys as strings.

    Every object carries its own ``url`` and its ``id``; related objects are hyperlinks.
    """

    serializer_related_field = LinkField
    serializer_url_field = SelfLinkField
    serializer_field_mapping = {
        **serializers.HyperlinkedModelSerializer.serializer_field_mapping,
        ObjectIdAutoField: ObjectIdField,
        ModelObjectIdField: ObjectIdField,
    }

    # DRF rebuilds a model serializer's fields from the model on every instantiation (field
    # kwargs, validators, choices): ~2 ms of a ~3 ms request. They depend only on the class, so
    # they are built once per class and copied (as DRF copies declared fields); subclasses that
    # adjust fields per request do it on the copy, after super().get_fields().
    _fields_by_class: ClassVar[dict[type, dict]] = {}

    def get_fields(self):
        cls = type(self)
        built = BaseModelSerializer._fields_by_class.get(cls)
        if built is None:
            built = BaseModelSerializer._fields_by_class.setdefault(cls, super().get_fields())
        return copy.deepcopy(built)


class ErrorSerializer(serializers.Serializer):
    """The JSON body of every 4xx and 5xx answer (documented in the OpenAPI schema)."""

    error = serializers.CharField(help_text="What went wrong, naming the offending field where there is one.")
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. `invalid`, `not_found`.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors by field path (dotted for nested fields), as the validator words them.",
    )
    messages = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="With `fields`: one sentence per field path for people, naming the field by its label "
        "and saying what is allowed (a template parameter's title and description, never a regex).",
    )
    current_status = serializers.CharField(
        required=False, help_text="On a refused state change (409): the object's current status."
    )


class RoleSerializer(BaseModelSerializer):
    url = SelfLinkField(view_name="role-detail", lookup_field="name")
    description = serializers.SerializerMethodField()
    users = serializers.SerializerMethodField(help_text="The users list filtered to this role.")

    class Meta:
        model = Group
        fields = ["url", "id", "name", "description", "users"]

    def get_description(self, group: Group) -> str:
        return roles.DESCRIPTIONS.get(group.name, "")

    def get_users(self, group: Group) -> str:
        request = self.context.get("request")
        return f"{reverse('user-list', request=request)}?role={quote(group.name)}"


@extend_schema_field({"type": "array", "items": {"type": "string"}, "example": ["dev"]})
class RolesField(serializers.Field):
    """A user's role names; written as a list of existing role names."""

    default_error_messages = {
        "not_a_list": "Expected a list of role names.",
        "unknown": "Unknown role(s): {names}.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("source", "*")
        super().__init__(**kwargs)

    def to_representation(self, user) -> list[str]:
        return sorted(roles.role_names(user))

    def to_internal_value(self, data) -> dict:
        if not isinstance(data, list) or not all(isinstance(name, str) for name in data):
            self.fail("not_a_list")
        groups = list(Group.objects.filter(name__in=set(data)))
        unknown = sorted(set(data) - {group.name for group in groups})
        if unknown:
            self.fail("unknown", names=", ".join(unknown))
        return {"groups": groups}


FORM_ONLY_KEYS = frozenset({"csrfmiddlewaretoken"})


class StrictFieldsMixin:
    """Refuse unknown and read-only fields with a 400 naming them, instead of ignoring them.

    ``resource_fields`` names the fields of the resource's representation, so that sending
    one the input does not accept (``status``) says "read-only" rather than "unknown".
    """

    resource_fields: tuple[str, ...] = ()

    def to_internal_value(self, data):
        if isinstance(data, dict):
            fields = self.fields
            errors = {}
            # An HTML form (the browsable API's) posts its own CSRF token: not a field of ours.
            ignored = FORM_ONLY_KEYS if html.is_html_input(data) else ()
            for name in data:
                if name in ignored:
                    continue
                if name in fields and not fields[name].read_only:
                    continue
                if name in fields or name in self.resource_fields:
                    errors[name] = ["This field is read-only."]
                else:
                    errors[name] = [f"Unknown field; expected one of: {', '.join(self._writable_names())}."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def _writable_names(self) -> list[str]:
        return [name for name, field in self.fields.items() if not field.read_only]


class UserSerializer(BaseModelSerializer):
    roles = RolesField(required=False)
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}, help_text="Validated for strength."
    )

    class Meta:
        model = User
        fields = [
            "url",
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "roles",
            "password",
            "is_active",
            "is_staff",
            "is_superuser",
            "date_joined",
            "last_login",
        ]
        read_only_fields = ["is_staff", "is_superuser", "date_joined", "last_login"]


class MeSerializer(StrictFieldsMixin, UserSerializer):
    """What a user may change about themself: their name and email (anything else is a 400 naming it)."""

    roles = RolesField(read_only=True)

    class Meta(UserSerializer.Meta):
        fields = [field for field in UserSerializer.Meta.fields if field != "password"]
        read_only_fields = [field for field in fields if field not in ("email", "first_name", "last_name")]


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False, write_only=True)


class TokenSerializer(serializers.Serializer):
    """A token just issued: the only time its value is shown."""

    token = serializers.CharField(read_only=True, help_text="Send it as `Authorization: Token <token>`. Shown once.")
    id = serializers.CharField(read_only=True, help_text="Its id, to revoke it: `DELETE /api/v1/auth/tokens/{id}/`.")
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, help_text="After this, the token is refused (401).")


class ApiTokenSerializer(BaseModelSerializer):
    """One of your API tokens, without its value (only a digest of it is stored)."""

    current = serializers.SerializerMethodField(help_text="Whether this request was authenticated with it.")

    class Meta:
        model = ApiToken
        fields = ["url", "id", "created_at", "expires_at", "last_used_at", "current"]
        read_only_fields = fields

    def get_current(self, token) -> bool:
        request = self.context.get("request")
        auth = getattr(request, "auth", None)
        return isinstance(auth, ApiToken) and auth.pk == token.pk


class UserSummarySerializer(BaseModelSerializer):
    """A user as embedded in other objects (``?expand=requested_by``)."""

    class Meta:
        model = User
        fields = ["url", "id", "username", "first_name", "last_name", "email"]
        read_only_fields = fields


class ExpandMixin:
    """`?expand=a,b` embeds the named related objects instead of linking them.

    Subclasses list ``expandable = {"field": lambda: SerializerClass}``; the view's queryset
    must ``select_related`` them so expanding costs no extra query.
    """

    expandable: dict = {}

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        parent = self.parent
        top_level = parent is None or (isinstance(parent, serializers.ListSerializer) and parent.parent is None)
        raw = request.query_params.get("expand", "") if request is not None and top_level else ""
        wanted = [name.strip() for name in raw.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in self.expandable]
        if unknown:
            raise serializers.ValidationError(
                {"expand": [f"Cannot expand {', '.join(unknown)}; use any of: {', '.join(self.expandable)}."]}
            )
        for name in wanted:
            if name in fields:
                fields[name] = self.expandable[name]()(read_only=True, context=self.context)
        return fields
