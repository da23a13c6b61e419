"""Shared fixtures. MongoDB and Redis are real servers started by cloudassist.testing.pytest_plugin."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from cloudassist import roles, services

# Fast hashing for tests only; production uses Django's default (PBKDF2).
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()


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
