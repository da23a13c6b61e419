"""How the admin shows entries: JSON indented and escaped (the data is user input), expiry."""

from __future__ import annotations

import json
from typing import Any

from django.utils import timezone

from cloudassist.admin import pretty_json as admin_pretty_json
from configs.models import Config


def indented(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def pretty_json(value: Any) -> str:
    """JSON in a <pre>, escaped, keys in the order the entry has them."""
    return admin_pretty_json(value, sort_keys=False)


def is_expired(config: Config) -> bool:
    return config.expires_at is not None and config.expires_at <= timezone.now()
