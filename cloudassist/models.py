"""The core's one model: API tokens, stored as digests.

A token is 40 random hex characters, shown once when it is issued (``POST /api/v1/auth/token/``).
Only its SHA-256 digest is stored and queried, so neither the collection nor MongoDB's logs (a
"Slow query" line prints the filter) ever hold a usable token. A token expires
``API_TOKEN_TTL_HOURS`` after it is issued; its owner lists and revokes theirs through the API.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

RAW_TOKEN_BYTES = 20  # 40 hex characters, as DRF's tokens had: 160 random bits


def token_digest(raw: str) -> str:
    """The SHA-256 hex digest a raw token is stored and looked up by. A plain hash is enough: the
    token is 160 random bits, not a password, so there is nothing to guess from the digest."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def new_raw_token() -> str:
    return secrets.token_hex(RAW_TOKEN_BYTES)


class ApiToken(models.Model):
    digest = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # When it last authenticated a request, to the minute (API_TOKEN_LAST_USED_EVERY_SECONDS):
    # null until then. Written at most once a minute per token, not on every request.
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]
        indexes = [
            # The unique index on digest is partial, which the lookup's equality match cannot use.
            models.Index(fields=["digest"], name="apitoken_digest"),
            # The owner's list, newest first (ties by id).
            models.Index(fields=["user", "-created_at", "-id"], name="apitoken_user_created"),
        ]

    def __str__(self) -> str:
        return f"API token of {self.user_id}, expires {self.expires_at:%Y-%m-%d %H:%M} UTC"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
