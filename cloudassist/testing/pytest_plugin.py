"""pytest plugin: real MongoDB, Redis and AWS emulator servers for the test run.

Loaded with ``-p cloudassist.testing.pytest_plugin`` (see pyproject.toml). Before
pytest-django reads the settings, it starts embedded servers on free ports (data in a
temporary directory, removed afterwards) unless MONGODB_URI / REDIS_URL are set, and
points the settings at them. The servers stop when the run ends.

The AWS providers always run against an emulator with dummy credentials, never real AWS:
the embedded moto server, or the one AWS_ENDPOINT_URL names.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from cloudassist import embedded
from cloudassist.testing import mongo

_state: dict = {}


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Runs around pytest-django's own hook, so the settings see these variables.
    mongo.register()  # before any MongoClient exists: tests can pin the commands a hot path sends
    os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
    os.environ.setdefault("SECRETS_KEYS", "dGVzdC1vbmx5LXNlY3JldHMta2V5LTMyLWJ5dGVzISE=")  # a Fernet key, tests only
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("AUTH_TOKEN_RATE", "1000/minute")
    data_dir = Path(tempfile.mkdtemp(prefix="cloudassist-test-"))
    try:
        services, env = embedded.start_missing(
            data_dir=data_dir,
            mongodb_uri=os.environ.get("MONGODB_URI"),
            redis_url=os.environ.get("REDIS_URL"),
            persist=False,
            aws_emulator=not os.environ.get("AWS_ENDPOINT_URL"),
            mongo_test_commands=True,  # fail points for the election tests (cloudassist/testing/failpoints.py)
        )
    except embedded.EmbeddedServerError as exc:
        embedded.remove_data(data_dir)
        raise pytest.UsageError(str(exc)) from exc
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(AWS_USE_EMULATOR="true", **embedded.EMULATOR_CREDENTIALS)
    os.environ.update(env)
    _state.update(services=services, data_dir=data_dir)
    return (yield)


def pytest_unconfigure(config):
    services = _state.pop("services", None)
    if services is not None:
        services.stop()
    data_dir = _state.pop("data_dir", None)
    if data_dir is not None:
        embedded.remove_data(data_dir)


def pytest_report_header(config):
    return (
        f"cloudassist: MongoDB {os.environ.get('MONGODB_URI')}  Redis {os.environ.get('REDIS_URL')}  "
        f"AWS emulator {os.environ.get('AWS_ENDPOINT_URL')}"
    )
