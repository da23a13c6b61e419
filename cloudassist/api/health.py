"""Liveness (/health) and readiness (/ready) probes."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes, renderer_classes
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

PROBE_TIMEOUT_SECONDS = 2.0


def check_mongodb() -> None:
    connection.ensure_connection()
    connection.connection.admin.command("ping")


def check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=PROBE_TIMEOUT_SECONDS, socket_timeout=PROBE_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


CHECKS = {"mongodb": check_mongodb, "redis": check_redis}

_status = inline_serializer("HealthStatus", {"status": serializers.CharField()})
_checks = inline_serializer(
    "ReadyStatus",
    {
        "status": serializers.CharField(),
        "checks": serializers.DictField(child=serializers.DictField(child=serializers.CharField())),
        "error": serializers.CharField(required=False),
    },
)


@extend_schema(responses={200: _status}, auth=[], tags=["health"])
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@renderer_classes([JSONRenderer])
def health(request):
    """Liveness: the process answers. Touches nothing else."""
    return Response({"status": "ok"})


@extend_schema(responses={200: _checks, 503: _checks}, auth=[], tags=["health"])
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@renderer_classes([JSONRenderer])
def ready(request):
    """Readiness: MongoDB and Redis answer a ping. 503 names each failed check."""
    checks: dict[str, dict[str, str]] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            checks[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            checks[name] = {"status": "ok"}
    failed = [name for name, result in checks.items() if result["status"] != "ok"]
    if failed:
        body = {"status": "unavailable", "checks": checks, "error": f"Not ready: {', '.join(failed)} unavailable"}
        return Response(body, status=503)
    return Response({"status": "ok", "checks": checks})
