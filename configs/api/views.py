"""The config server API, served at the seed's `/configs` paths and at `/api/v1/configs/`.

Entries are `{"name": ..., "data": ...}` plus their version (also the ETag), labels, schema,
access lists and expiry. PUT/PATCH/DELETE honour If-Match (412); without it they are
last-write-wins (the service retries its compare-and-set). GET honours If-None-Match
(304), and `GET /configs/{name}?wait=30s&version=N` is a long poll (configs/api/watch.py; the
URL's two views meet in configs/api/dispatch.py, so neither module imports the other's importer).
"""

from __future__ import annotations

import re

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from cloudassist.api.pagination import StandardPagination
from cloudassist.api.parsers import JSONParser
from cloudassist.api.serializers import ErrorSerializer, StrictFieldsMixin
from cloudassist.selectors import attach_related
from configs import services
from configs.models import Config, ConfigVersion

# What a write of an existing entry can answer besides 200 (PUT and PATCH).
WRITE_ERRORS = dict.fromkeys((400, 409, 412, 413, 422), ErrorSerializer)


class JSONPatchParser(JSONParser):
    media_type = "application/json-patch+json"


class MergePatchParser(JSONParser):
    media_type = "application/merge-patch+json"


class ConfigSerializer(serializers.Serializer):
    name = serializers.CharField()
    data = serializers.JSONField(allow_null=True)
    version = serializers.IntegerField()
    labels = serializers.DictField(child=serializers.CharField())
    schema = serializers.JSONField(allow_null=True)
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    read_roles = serializers.ListField(child=serializers.CharField())
    write_roles = serializers.ListField(child=serializers.CharField())
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ConfigCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """POST: `name` and `data` are required; unknown fields are a 400 naming them."""

    name = serializers.CharField(help_text="Letters, digits, '.', '_', ':', '-'; up to 128.")
    data = serializers.JSONField(allow_null=True, help_text="Any JSON value, up to CONFIG_MAX_BYTES.")
    schema = serializers.JSONField(required=False, allow_null=True)
    labels = serializers.JSONField(required=False)
    read_roles = serializers.JSONField(required=False)
    write_roles = serializers.JSONField(required=False)
    ttl = serializers.JSONField(required=False, allow_null=True, help_text="Seconds until it is gone; null: never.")


class ConfigReplaceSerializer(ConfigCreateSerializer):
    """PUT: the seed's envelope, `name` (the name in the URL) and `data`; metadata left out stays."""

    # Checked by services.check_envelope_name, whose 400 says what to send.
    name = serializers.JSONField(required=False, help_text="The entry's name: the same as in the URL.")


class VersionSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", allow_null=True, default=None)

    class Meta:
        model = ConfigVersion
        fields = ["version", "data", "action", "author", "created_at"]


def _validated(serializer_class, request) -> dict:
    payload = serializer_class(data=request.data)
    payload.is_valid(raise_exception=True)
    return dict(payload.validated_data)


_ETAG = re.compile(r'\s*(?:W/)?"?(\d+)"?\s*')


def etag_version(value: str) -> int | None:
    """The version in an entity tag (`"3"`, `W/"3"`, `3`), or None when it holds none."""
    match = _ETAG.fullmatch(value)
    return int(match.group(1)) if match else None


def if_match(request) -> int | None:
    """The version in If-Match (`"3"`, `W/"3"`, `3`); `*` means any; garbage never matches."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    version = etag_version(header)
    return -1 if version is None else version


def etag(config) -> str:
    """The entity tag of a Config or a cached entry (configs/cache.py): its version."""
    return f'"{config.version}"'


def not_modified(request, config) -> bool:
    return request.headers.get("If-None-Match", "").strip() in (etag(config), f"W/{etag(config)}", "*")


def _not_modified(config) -> Response:
    response = Response(status=status.HTTP_304_NOT_MODIFIED)
    response["ETag"] = etag(config)
    return response


def entry(config: Config, *, status_code: int = 200) -> Response:
    response = Response(ConfigSerializer(config).data, status=status_code)
    response["ETag"] = etag(config)
    return response


class ConfigListView(APIView):
    """List entries you may read (`?prefix=`, `?label=env:prod`, repeatable), or create one."""

    pagination_class = StandardPagination  # also how the OpenAPI schema knows the list is paginated

    @extend_schema(
        parameters=[
            OpenApiParameter("prefix", str, description="Names starting with this."),
            OpenApiParameter("label", str, many=True, description="`key:value`, repeatable (all must match)."),
        ],
        responses={200: ConfigSerializer(many=True)},
    )
    def get(self, request):
        queryset = services.listing(
            actor=request.user,
            prefix=request.query_params.get("prefix"),
            labels=request.query_params.getlist("label"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        services.attach_owners(page, actor=request.user)
        return paginator.get_paginated_response(ConfigSerializer(page, many=True).data)

    @extend_schema(
        request=ConfigCreateSerializer,
        responses={201: ConfigSerializer, 400: ErrorSerializer, 409: ErrorSerializer, 413: ErrorSerializer},
    )
    def post(self, request):
        body = _validated(ConfigCreateSerializer, request)
        config = services.create(actor=request.user, **body)
        response = entry(config, status_code=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/{config.name}")
        return response


class ConfigDetailView(APIView):
    parser_classes = [JSONParser, MergePatchParser, JSONPatchParser]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "wait", str, description="Long poll: e.g. `30s`; returns when the version passes `version`."
            ),
            OpenApiParameter("version", int, description="With `wait`: the version you have."),
        ],
        responses={200: ConfigSerializer, 304: None, 404: ErrorSerializer},
    )
    def get(self, request, name: str):
        renderer = request.accepted_renderer
        if renderer.format != "json":  # the browsable API: rendered per request, as every view's
            config = services.get(actor=request.user, name=name)
            if not_modified(request, config):
                return _not_modified(config)
            return entry(config)
        # JSON: the body comes with the entry from the process's cache (rendered once, when it
        # was loaded; access is checked on every read).
        found = services.read(
            actor=request.user,
            name=name,
            render=lambda config: renderer.render(ConfigSerializer(config).data, renderer.media_type),
        )
        if not_modified(request, found):
            return _not_modified(found)
        response = HttpResponse(found.body, content_type=request.accepted_media_type)
        response["ETag"] = etag(found)
        return response

    @extend_schema(
        request=ConfigReplaceSerializer,
        responses={200: ConfigSerializer, **WRITE_ERRORS},
    )
    def put(self, request, name: str):
        body = _validated(ConfigReplaceSerializer, request)
        services.check_envelope_name(body.pop("name", None), name)
        config = services.replace(actor=request.user, name=name, if_match=if_match(request), **body)
        return entry(config)

    @extend_schema(
        request={
            "application/merge-patch+json": OpenApiTypes.OBJECT,
            "application/json": OpenApiTypes.OBJECT,
            "application/json-patch+json": {"type": "array", "items": {"type": "object"}},
        },
        responses={200: ConfigSerializer, **WRITE_ERRORS},
    )
    def patch(self, request, name: str):
        media_type = request.content_type.split(";")[0].strip().lower()
        if media_type == JSONParser.media_type and services.is_seed_envelope(request.data, name):
            # The seed's clients update with the entry's envelope: its data replaces the data.
            config = services.replace(
                actor=request.user, name=name, data=request.data["data"], if_match=if_match(request)
            )
            return entry(config)
        json_patch = media_type == JSONPatchParser.media_type
        config = services.patch(
            actor=request.user, name=name, document=request.data, json_patch=json_patch, if_match=if_match(request)
        )
        return entry(config)

    @extend_schema(responses={204: None, 404: ErrorSerializer, 409: ErrorSerializer, 412: ErrorSerializer})
    def delete(self, request, name: str):
        services.delete(actor=request.user, name=name, if_match=if_match(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConfigVersionsView(APIView):
    """Every version of an entry, newest first."""

    pagination_class = StandardPagination

    @extend_schema(responses={200: VersionSerializer(many=True), 404: ErrorSerializer})
    def get(self, request, name: str):
        config = services.get(actor=request.user, name=name)
        paginator = self.pagination_class()
        versions = ConfigVersion.objects.filter(config=config).order_by("-version")
        page = paginator.paginate_queryset(versions, request, view=self)
        attach_related(page, "author", only=["username"], known=[request.user])
        return paginator.get_paginated_response(VersionSerializer(page, many=True).data)


class ConfigVersionView(APIView):
    @extend_schema(responses={200: VersionSerializer, 404: ErrorSerializer})
    def get(self, request, name: str, version: int):
        config = services.get(actor=request.user, name=name)
        found = next(iter(ConfigVersion.objects.filter(config=config, version=version).order_by()[:1]), None)
        if found is None:
            raise NotFound("Not found")
        attach_related([found], "author", only=["username"], known=[request.user])
        return Response(VersionSerializer(found).data)


class RollbackRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    version = serializers.IntegerField()


class ConfigRollbackView(APIView):
    """Write an old version's data as a new version (If-Match honoured)."""

    @extend_schema(request=RollbackRequestSerializer, responses={200: ConfigSerializer, 400: ErrorSerializer})
    def post(self, request, name: str):
        body = _validated(RollbackRequestSerializer, request)
        config = services.rollback(actor=request.user, name=name, version=body["version"], if_match=if_match(request))
        return entry(config)


detail_view = ConfigDetailView.as_view()  # the plain detail view, for configs/api/dispatch.py and the watch
