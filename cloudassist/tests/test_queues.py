"""cloudassist/queues.py: a down or hung Redis costs a request one bounded try, then nothing."""

import os
import signal
from contextlib import contextmanager

import django_rq
import pytest
import redis
from django.conf import settings

from cloudassist import embedded, logs, queues
from cloudassist.testing import pytest_plugin
from provisioning.choices import RequestStatus
from provisioning.models import ProvisionRequest


def _test_redis_pid() -> int:
    servers = pytest_plugin._state.get("services")
    for server in getattr(servers, "servers", ()):
        if isinstance(server, embedded.EmbeddedRedis) and server.is_running():
            return server.proc.pid
    pytest.skip("the test run uses an external Redis (REDIS_URL): it cannot be paused")


@contextmanager
def _hung_redis():
    """The test run's Redis stopped (SIGSTOP): connections are accepted, nothing is answered."""
    pid = _test_redis_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("name", sorted(settings.RQ_QUEUES))
def test_every_queue_connection_gives_up_after_the_redis_timeout(name):
    kwargs = django_rq.get_queue(name).connection.connection_pool.connection_kwargs
    assert kwargs["socket_connect_timeout"] == settings.REDIS_TIMEOUT_SECONDS == 1.0
    assert kwargs["socket_timeout"] == settings.REDIS_TIMEOUT_SECONDS


@pytest.mark.django_db
def test_an_approval_with_redis_hung_returns_approved_and_enqueues_nothing(
    make_request, devops_client, provisioning_queue, notifications_queue, caplog
):
    request = make_request()
    with _hung_redis():
        response = devops_client.post(f"/api/v1/provision-requests/{request.pk}/approve/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == RequestStatus.APPROVED
    assert ProvisionRequest.objects.get(pk=request.pk).status == RequestStatus.APPROVED
    assert provisioning_queue.fetch_job(f"provision-{request.pk}") is None  # the sweep enqueues it later
    assert notifications_queue.count == 0
    # One try timed out (the job); the request's emails did not wait for Redis again.
    failures = [record.exc_info[0] for record in caplog.records if record.exc_info]
    assert failures == [redis.exceptions.TimeoutError, queues.QueueUnavailable]


def test_a_failure_is_remembered_for_the_rest_of_its_request_or_job_only():
    rid = logs.request_id.set("job-sweep-1")
    try:
        with _hung_redis(), pytest.raises(redis.exceptions.TimeoutError), queues.queue("default") as queue:
            queue.count  # noqa: B018 -- one read, which times out
        assert "TimeoutError" in queues.unavailable()
        with pytest.raises(queues.QueueUnavailable, match="not tried again: TimeoutError"), queues.queue("default"):
            pass
    finally:
        logs.request_id.reset(rid)
    assert not queues.unavailable()  # the next request or job tries Redis again
    with queues.queue("default") as queue:
        assert queue.count >= 0
