"""The ASGI application. django.setup() runs the AppConfigs' ready() first (tracing, when the OTEL_*
variables switch it on, instruments Django there), then the handler builds its middleware chain."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudassist.settings")
application = get_asgi_application()
