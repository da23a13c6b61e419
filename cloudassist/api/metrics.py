"""GET /metrics: the Prometheus scrape of the web processes (cloudassist/metrics.py)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client.exposition import choose_encoder

from cloudassist.api.errors import error_body
from cloudassist.metrics import exposition_registry


def _token_matches(request, token: str) -> bool:
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not supplied.strip():
        return False
    return hmac.compare_digest(supplied.strip().encode(), token.encode())


def metrics_view(request):
    """GET /metrics. With METRICS_TOKEN set: ``Authorization: Bearer <token>`` or 401. Without
    it: 404, except in DEBUG (``make run`` on 127.0.0.1), where it is open."""
    if request.method not in ("GET", "HEAD"):
        body = error_body(f'Method "{request.method}" not allowed.', code="method_not_allowed", status_code=405)
        return JsonResponse(body, status=405, headers={"Allow": "GET, HEAD"})
    token = settings.METRICS_TOKEN
    if not token and not settings.DEBUG:
        return JsonResponse(error_body("Not found", code="not_found", status_code=404), status=404)
    if token and not _token_matches(request, token):
        message = "Metrics need a valid token: send Authorization: Bearer <METRICS_TOKEN>."
        return JsonResponse(
            error_body(message, code="not_authenticated", status_code=401),
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = HttpResponse(encoder(exposition_registry()), content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
