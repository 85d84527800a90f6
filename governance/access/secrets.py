"""Secrets stored encrypted at rest: Fernet tokens over settings.FIELD_ENCRYPTION_KEYS.

MultiFernet: the first key encrypts, every key decrypts, so a key is rotated by putting the new
one first and re-encrypting. Nothing here logs or repeats a secret: an error names the problem,
never the value.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(ValueError):
    """A stored secret none of the configured keys can decrypt (a rotated-away key, a typo)."""


def _fernet() -> MultiFernet:
    keys = [key for key in settings.FIELD_ENCRYPTION_KEYS if key]
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is not set: secrets cannot be stored")
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(value: str) -> str:
    """The Fernet token of `value`, made with the first key."""
    return _fernet().encrypt(value.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The secret behind `token`; SecretUnreadable when no configured key opens it."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise SecretUnreadable(
            "the stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY (rotated away?)"
        ) from None
