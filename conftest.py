"""Shared fixtures. MongoDB and Redis are real servers started by cloudassist.testing.pytest_plugin."""

from __future__ import annotations

import os
from datetime import timedelta

import django_rq
import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from cloudassist import embedded, roles, services
from cloudassist.testing.kubernetes import PLACEHOLDER_KUBECONFIG
from provisioning import services as provisioning_services
from provisioning.choices import RequestStatus
from provisioning.models import ProvisionRequest
from provisioning.tests.conftest import EKS_PARAMETERS
from templates import services as template_services
from templates.models import Template
from templates.seed import TEMPLATES

# Fast hashing for tests only; production uses Django's default (PBKDF2).
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache, caches

    from cloudassist.feedcache import clear_all
    from configs.cache import cache as config_cache

    cache.clear()
    clear_all()  # the per-process caches of rows (templates, prices): each test has its own database rows
    config_cache().clear()  # configs/cache.py: this process's config entries
    # The shared cache lives in the Redis database rq uses: delete its keys, never flush the database.
    shared = caches["shared"]
    client = shared._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{shared.key_prefix}:*"))
    if keys:
        client.delete(*keys)


# A shared cluster's kubeconfig (nothing listens there): namespace templates can be requested. Tests
# of the not-configured case clear SHARED_CLUSTER_KUBECONFIG_DATA.
SHARED_CLUSTER_KUBECONFIG = PLACEHOLDER_KUBECONFIG


@pytest.fixture(autouse=True)
def _shared_cluster_configured(settings):
    if not settings.SHARED_CLUSTER_KUBECONFIG and not settings.SHARED_CLUSTER_KUBECONFIG_DATA:
        settings.SHARED_CLUSTER_KUBECONFIG_DATA = SHARED_CLUSTER_KUBECONFIG


@pytest.fixture
def mongo_commands(db):
    """``with mongo_commands() as seen:`` records the MongoDB commands sent inside the block
    (see cloudassist/testing/mongo.py for the shape and index assertions)."""
    from cloudassist.testing.mongo import RECORDER

    return RECORDER.capture


@pytest.fixture
def make_user(db):
    def make(username: str, *role_names: str, **fields):
        services.ensure_roles()
        groups = list(Group.objects.filter(name__in=role_names))
        return services.create_user(username=username, password=PASSWORD, groups=groups, **fields)

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user("admin1", roles.ADMIN)


@pytest.fixture
def dev_user(make_user):
    return make_user("dev1", roles.DEV)


@pytest.fixture
def other_dev(make_user):
    return make_user("dev2", roles.DEV)


@pytest.fixture
def devops_user(make_user):
    return make_user("ops1", roles.DEVOPS)


def _client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def admin_client_api(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def dev_client(dev_user):
    return _client_for(dev_user)


@pytest.fixture
def devops_client(devops_user):
    return _client_for(devops_user)


# --- provisioning: the seed's templates (with prices) and requests in any status ---------------


@pytest.fixture
def templates(db):
    from quotas.pricing_seed import seed_pricing

    seed_pricing()
    for definition in TEMPLATES:
        template_services.create_template(actor=None, **definition)
    return {template.pk: template for template in Template.objects.all()}


@pytest.fixture
def eks(templates):
    return templates["basic-eks-cluster"]


def _emptied(name: str):
    queue = django_rq.get_queue(name)
    queue.empty()
    yield queue
    queue.empty()


@pytest.fixture
def provisioning_queue():
    yield from _emptied(provisioning_services.PROVISIONING_QUEUE)


@pytest.fixture
def default_queue():
    """rq's `default` queue on the real Redis, empty before and after the test."""
    yield from _emptied("default")


@pytest.fixture
def notifications_queue():
    """The `notifications` queue (email and webhook deliveries), empty before and after the test."""
    from notifications.services import QUEUE

    yield from _emptied(QUEUE)


@pytest.fixture
def make_request(eks, dev_user):
    """Submit a request through the service, then (for tests only) put it in ``status``."""

    def make(*, status: str = RequestStatus.REQUESTED, user=None, **fields) -> ProvisionRequest:
        fields.setdefault("template", eks)
        fields.setdefault("parameters", EKS_PARAMETERS)
        request = provisioning_services.submit_request(actor=user or dev_user, **fields)
        if status != RequestStatus.REQUESTED:
            ProvisionRequest.objects.filter(pk=request.pk).update(status=status)
            request.status = status
        return request

    return make


@pytest.fixture
def live_request(make_request):
    return make_request(status=RequestStatus.DEPLOYED, expires_at=timezone.now() + timedelta(hours=4))


@pytest.fixture
def serve_env(tmp_path):
    """The environment of a `manage.py serve` started by a test: its own var dir and free ports."""
    # As on a fresh machine: no servers and no AWS configured.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("MONGODB_URI", "REDIS_URL") and not key.startswith("AWS_")
    }
    env.update(
        CLOUDASSIST_VAR_DIR=str(tmp_path / "var"),
        EMBEDDED_MONGO_PORT=str(embedded.free_port()),
        EMBEDDED_REDIS_PORT=str(embedded.free_port()),
        EMBEDDED_MOTO_PORT=str(embedded.free_port()),
        PORT=str(embedded.free_port()),
        # serve gives the first worker this port and the notifications worker the one after it
        WORKER_METRICS_PORT=str(embedded.free_port(count=2)),
        DEBUG="true",
        DEMO_PASSWORD="demo-pass-for-tests",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def moto_endpoint(settings):
    """The AWS emulator of the test run (a real moto server over HTTP, started by
    cloudassist.testing.pytest_plugin), emptied before and after the test."""
    assert settings.AWS_EMULATOR, "the tests must never talk to real AWS"
    endpoint = settings.AWS_ENDPOINT_URL
    embedded.reset_emulator(endpoint)
    yield endpoint
    embedded.reset_emulator(endpoint)


@pytest.fixture
def other_client():
    """The test database through a MongoClient of its own: a write this process's backend never
    sees, as another worker's or another host's would be."""
    from django.db import connection
    from pymongo import MongoClient

    host = connection.settings_dict["HOST"]
    client = MongoClient(host, directConnection=True) if "://" not in host else MongoClient(host)
    yield client[connection.settings_dict["NAME"]]
    client.close()
