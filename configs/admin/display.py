"""How the admin shows entries: JSON indented and escaped (the data is user input), expiry."""

from __future__ import annotations

import json
from typing import Any

from django.utils import timezone
from django.utils.html import format_html

from configs.models import Config


def indented(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def pretty_json(value: Any) -> str:
    """JSON in a <pre>, escaped."""
    return format_html('<pre style="margin: 0; white-space: pre-wrap;">{}</pre>', indented(value))


def is_expired(config: Config) -> bool:
    return config.expires_at is not None and config.expires_at <= timezone.now()
