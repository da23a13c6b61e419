"""Settings come from the environment; production settings pass `check --deploy`."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
# Warnings `check --deploy` may show; the README's production section says why each is left.
JUSTIFIED = {"security.W021"}  # HSTS preload: an irreversible opt-in for the domain owner


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env={**base, **env}, capture_output=True, text=True
    )


def test_production_settings_pass_check_deploy():
    result = _manage(
        "check",
        "--deploy",
        DEBUG="false",
        SECRET_KEY="k" * 20 + "-a-Long-random-production-secret-" + "z" * 20,
        ALLOWED_HOSTS="cloudassist.example.com",
        SECURE_SSL_REDIRECT="true",
    )
    assert result.returncode == 0, result.stderr
    found = set(re.findall(r"\(([a-z_]+\.[EW]\d+)\)", result.stderr))
    assert found <= JUSTIFIED, result.stderr


def test_production_without_secret_key_is_one_clear_error():
    result = _manage("check", DEBUG="false", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in result.stderr


def test_settings_read_the_dotenv_file_and_the_environment_wins(tmp_path):
    (tmp_path / ".env").write_text("DEMO_PASSWORD=from-dotenv\nALLOWED_HOSTS=a.example,b.example\n")
    env = {key: value for key, value in os.environ.items() if key not in ("DEMO_PASSWORD", "ALLOWED_HOSTS")}
    env.update(CLOUDASSIST_ENV_FILE=str(tmp_path / ".env"), DJANGO_SETTINGS_MODULE="cloudassist.settings")
    script = "from django.conf import settings; print(settings.DEMO_PASSWORD, ','.join(settings.ALLOWED_HOSTS))"
    command = [sys.executable, "-c", script]
    result = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["from-dotenv", "a.example,b.example"]
    env["DEMO_PASSWORD"] = "from-environment"
    result = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["from-environment", "a.example,b.example"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "mongodb://127.0.0.1:27117/?directConnection=true"),
        ({"EMBEDDED_MONGO_PORT": "28001"}, "mongodb://127.0.0.1:28001/?directConnection=true"),
        ({"MONGODB_URI": "mongodb://db.internal:27017/?replicaSet=rs0"}, "mongodb://db.internal:27017/?replicaSet=rs0"),
    ],
)
def test_mongodb_uri_defaults_to_the_embedded_server(env, expected):
    base = {key: value for key, value in os.environ.items() if key not in ("MONGODB_URI", "EMBEDDED_MONGO_PORT")}
    script = "from django.conf import settings; print(settings.DATABASES['default']['HOST'])"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env={**base, **env, "DJANGO_SETTINGS_MODULE": "cloudassist.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == expected


def test_production_without_secrets_keys_is_one_clear_error():
    result = _manage("check", DEBUG="false", SECRET_KEY="k" * 50, SECRETS_KEYS="")
    assert result.returncode != 0
    assert "SECRETS_KEYS is required when DEBUG is false" in result.stderr


def _aws_settings(**env: str) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    script = (
        "from django.conf import settings; "
        "print(settings.AWS_EMULATOR, settings.AWS_ENDPOINT_URL or '-', settings.AWS_REGION, "
        "settings.EMBEDDED_MOTO_PORT)"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env={**base, **env, "DJANGO_SETTINGS_MODULE": "cloudassist.settings"},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # A fresh machine: the local emulator.
        ({}, "True - us-east-1 5117"),
        ({"EMBEDDED_MOTO_PORT": "5200", "AWS_REGION": "eu-west-1"}, "True - eu-west-1 5200"),
        # Credentials or an endpoint in the environment: that AWS.
        ({"AWS_ACCESS_KEY_ID": "AKIA...", "AWS_SECRET_ACCESS_KEY": "s"}, "False - us-east-1 5117"),
        ({"AWS_PROFILE": "work"}, "False - us-east-1 5117"),
        ({"AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token"}, "False - us-east-1 5117"),
        ({"AWS_ENDPOINT_URL": "https://aws.internal"}, "False https://aws.internal us-east-1 5117"),
        # Forced either way.
        ({"AWS_USE_EMULATOR": "false"}, "False - us-east-1 5117"),
        ({"AWS_USE_EMULATOR": "True", "AWS_ACCESS_KEY_ID": "x"}, "True - us-east-1 5117"),
        (
            {"AWS_USE_EMULATOR": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
            "True http://127.0.0.1:9 us-east-1 5117",
        ),
    ],
)
def test_aws_uses_the_emulator_unless_aws_is_configured(env, expected):
    result = _aws_settings(**env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_a_bad_aws_use_emulator_is_one_clear_error():
    result = _aws_settings(AWS_USE_EMULATOR="maybe")
    assert result.returncode != 0
    assert "AWS_USE_EMULATOR must be auto, true or false, not 'maybe'" in result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "0 0 [] []"),  # X-Forwarded-For ignored; no internal webhook address allowed
        (
            {
                "TRUSTED_PROXY_COUNT": "2",
                "WEBHOOK_ALLOWED_NETWORKS": "10.20.0.0/16, fd00:1::/64",
                "WEBHOOK_ALLOWED_HOSTS": "hooks.internal,.chat.corp",
            },
            "2 2 ['10.20.0.0/16', 'fd00:1::/64'] ['hooks.internal', '.chat.corp']",
        ),
    ],
)
def test_proxy_count_and_webhook_allow_lists_from_the_environment(env, expected):
    drop = ("TRUSTED_PROXY_COUNT", "WEBHOOK_ALLOWED_NETWORKS", "WEBHOOK_ALLOWED_HOSTS")
    base = {key: value for key, value in os.environ.items() if key not in drop}
    script = (
        "from django.conf import settings as s; "
        "print(s.TRUSTED_PROXY_COUNT, s.REST_FRAMEWORK['NUM_PROXIES'], "
        "s.WEBHOOK_ALLOWED_NETWORKS, s.WEBHOOK_ALLOWED_HOSTS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env={**base, **env, "DJANGO_SETTINGS_MODULE": "cloudassist.settings"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
