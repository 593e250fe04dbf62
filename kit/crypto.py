"""Encryption at rest for LINE secrets (Fernet keys from FIELD_ENCRYPTION_KEY).

Rotation: put a new key first in FIELD_ENCRYPTION_KEY (comma-separated, newest first), run
`python manage.py rotate_secrets` to re-encrypt every stored secret with it, then drop the old key.
"""

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@functools.cache
def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEY)
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be set when DEBUG is false. Generate one with: "
            "python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY holds a key that is not a valid Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from exc


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY: "
            "was the key changed without keeping the old one?"
        ) from exc


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


def mask(secret: str) -> str:
    """Shows only the last four characters: enough to tell two tokens apart."""
    if not secret:
        return ""
    return "••••••••" + secret[-4:]


class EncryptedTextField(models.TextField):
    """A text field stored as Fernet ciphertext; Python code sees the plain text."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
