"""SITE_URL, the base of the links in notifications, defaults to the host and port served."""

import os
import subprocess
import sys

import pytest

BASE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _site_url(**env: str) -> str:
    child_env = {key: value for key, value in os.environ.items() if key not in ("SITE_URL", "HOST", "PORT")}
    child_env.update(env, DJANGO_SETTINGS_MODULE="cloudassist.settings", CLOUDASSIST_ENV_FILE="/dev/null")
    code = "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=child_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8123"}, "http://127.0.0.1:8123"),
        ({"HOST": "0.0.0.0", "PORT": "9000"}, "http://localhost:9000"),
        ({"PORT": "8123", "SITE_URL": "https://cloudassist.example.com"}, "https://cloudassist.example.com"),
    ],
)
def test_site_url_defaults_to_what_is_served(env, expected):
    assert _site_url(**env) == expected
