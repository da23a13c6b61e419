"""Liveness (/health) and readiness (/ready) probes. Both answer JSON whatever the Accept header asks.

Readiness is MongoDB: without it no request can be served (503). Redis is reported, not required:
submissions, approvals and config writes are stored without it, and the sweep enqueues their jobs
once it is back (cloudassist/queues.py). A readiness probe that failed on Redis would take every
web pod out of service during a Redis outage.
"""

from __future__ import annotations

from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from cloudassist import queues


def check_mongodb() -> None:
    connection.ensure_connection()
    connection.connection.admin.command("ping")


def check_redis() -> None:
    queues.ping()


CHECKS = {"mongodb": check_mongodb, "redis": check_redis}
REQUIRED = ("mongodb",)  # a failed optional check leaves /ready 200 ("degraded")

_status = inline_serializer("HealthStatus", {"status": serializers.CharField()})
_checks = inline_serializer(
    "ReadyStatus",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded", "unavailable"]),
        "checks": serializers.DictField(child=serializers.DictField(child=serializers.CharField())),
        "error": serializers.CharField(required=False),
        "warning": serializers.CharField(required=False),
    },
)


class AlwaysJSON(BaseContentNegotiation):
    """Probes answer JSON to every Accept header (a browser's, ``text/html``, none): no 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _Probe(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON


class HealthView(_Probe):
    @extend_schema(responses={200: _status}, auth=[], tags=["health"], operation_id="health_retrieve")
    def get(self, request):
        """Liveness: the process answers. Touches nothing else."""
        return Response({"status": "ok"})


class ReadyView(_Probe):
    @extend_schema(responses={200: _checks, 503: _checks}, auth=[], tags=["health"], operation_id="ready_retrieve")
    def get(self, request):
        """Readiness: MongoDB answers a ping (else 503). Redis is pinged and reported: while it is
        down the status is "degraded" (200), and jobs wait until it is back."""
        checks: dict[str, dict[str, str]] = {}
        for name, check in CHECKS.items():
            try:
                check()
            except Exception as exc:
                checks[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
            else:
                checks[name] = {"status": "ok"}
        failed = [name for name, result in checks.items() if result["status"] != "ok"]
        required = [name for name in failed if name in REQUIRED]
        if required:
            body = {"status": "unavailable", "checks": checks, "error": f"Not ready: {', '.join(failed)} unavailable"}
            return Response(body, status=503)
        if failed:
            warning = f"{', '.join(failed)} unavailable: jobs and emails wait until it is back"
            return Response({"status": "degraded", "checks": checks, "warning": warning})
        return Response({"status": "ok", "checks": checks})


health = HealthView.as_view()
ready = ReadyView.as_view()
