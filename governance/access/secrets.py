"""Secrets at rest: `encrypt` and `decrypt` text with the keys in settings.FIELD_ENCRYPTION_KEYS.

MultiFernet over the configured keys: the first key encrypts, every key decrypts, so a key is
rotated by putting the new one first and keeping the old one until everything was re-encrypted.
Nothing here logs or repeats the value it was given; errors say what is wrong with the keys or
the token, never what the text was.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(ValueError):
    """A stored secret that none of the configured keys decrypts (a key was dropped too soon)."""


def _fernet() -> MultiFernet:
    keys = list(getattr(settings, "FIELD_ENCRYPTION_KEYS", []) or [])
    if not keys:
        raise ImproperlyConfigured(
            "No FIELD_ENCRYPTION_KEY is configured: set it (a Fernet key, or several "
            "comma-separated, the first encrypting) to store credentials."
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        # Fernet's own message is safe, but say which setting holds the bad key.
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from None


def encrypt(text: str) -> str:
    """`text` encrypted with the first configured key, as an ASCII token."""
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """The text of a token `encrypt` made with any configured key; SecretUnreadable if none."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise SecretUnreadable(
            "the stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEY "
            "(was the key that encrypted it removed?)"
        ) from None


def rotate(token: str) -> str:
    """The same secret re-encrypted with the first (newest) key."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise SecretUnreadable("the stored secret cannot be decrypted to re-encrypt it") from None
