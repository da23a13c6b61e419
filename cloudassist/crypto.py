"""Secrets at rest (kubeconfigs, credentials): Fernet tokens under rotatable keys.

``SECRETS_KEYS`` is a comma-separated list of Fernet keys. The first encrypts; all of them
decrypt, so a new key is rotated in by putting it first, running ``manage.py
rotate_secrets`` (re-encrypts every stored secret with it), then dropping the old one.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


def development_key(secret_key: str) -> str:
    """A stable key derived from SECRET_KEY, for DEBUG only (settings refuse it otherwise)."""
    digest = hashlib.sha256(f"cloudassist-secrets:{secret_key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("SECRETS_KEYS is empty; generate one with `manage.py rotate_secrets --new-key`.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("SECRETS_KEYS holds a value that is not a Fernet key.") from exc


def _keys() -> tuple[str, ...]:
    return tuple(settings.SECRETS_KEYS)


def encrypt(plaintext: str) -> str:
    return _fernet(_keys()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(_keys()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretError("The secret cannot be decrypted with the configured SECRETS_KEYS.") from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` with the first key (no-op cost if it already is)."""
    try:
        return _fernet(_keys()).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretError("The secret cannot be decrypted with the configured SECRETS_KEYS.") from exc
