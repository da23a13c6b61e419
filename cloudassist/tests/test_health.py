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
def test_ready_is_503_naming_redis_when_redis_stops(settings, tmp_path):
    redis_server = embedded.EmbeddedRedis(data_dir=tmp_path)
    redis_server.persist = False
    redis_server.start()
    settings.REDIS_URL = redis_server.url
    try:
        assert APIClient().get("/ready").status_code == 200
    finally:
        redis_server.stop()
    response = APIClient().get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["mongodb"] == {"status": "ok"}
    assert body["checks"]["redis"]["status"] == "error"
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert body["error"] == "Not ready: redis unavailable"
