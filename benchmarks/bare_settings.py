"""The baseline of `benchmarks/bench_http.py`: bare Django with one JSON view, no apps, no
middleware, no database. Served by the very same command and environment as the product, with
DJANGO_SETTINGS_MODULE=benchmarks.bare_settings, so the difference is what CloudAssist adds."""

import os

DEBUG = False
SECRET_KEY = os.environ.get("SECRET_KEY", "bare-benchmark-settings-not-a-secret")
ALLOWED_HOSTS = [host for host in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if host]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "benchmarks.bare_urls"
DATABASES: dict = {}
USE_TZ = True
WSGI_APPLICATION = "cloudassist.wsgi.application"
ASGI_APPLICATION = "cloudassist.asgi.application"
LOGGING_CONFIG = None
