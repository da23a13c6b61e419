import pytest
from rest_framework.test import APIClient

from cloudassist import embedded


@pytest.mark.django_db
def test_health_touches_nothing_and_says_ok(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = APIClient().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_pings_mongodb_and_redis():
    response = APIClient().get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"mongodb": {"status": "ok"}, "redis": {"status": "ok"}}}


@pytest.mark.django_db
def test_ready_stays_200_reporting_redis_when_redis_stops(settings, tmp_path):
    # Writes succeed without Redis (the sweep enqueues later): a probe failing on it would take every web pod out.
    redis_server = embedded.EmbeddedRedis(data_dir=tmp_path)
    redis_server.persist = False
    redis_server.start()
    settings.REDIS_URL = redis_server.url
    try:
        assert APIClient().get("/ready").json()["status"] == "ok"
    finally:
        redis_server.stop()
    response = APIClient().get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["mongodb"] == {"status": "ok"}
    assert body["checks"]["redis"]["status"] == "error"
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert body["warning"] == "redis unavailable: jobs and emails wait until it is back"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health", "/ready"])
@pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/html,application/xhtml+xml;q=0.9", ""])
def test_probes_answer_json_whatever_the_accept_header(path, accept):
    response = APIClient().get(path, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "ok"
