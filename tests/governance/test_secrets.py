"""Secrets at rest: Fernet tokens over FIELD_ENCRYPTION_KEYS, rotatable, never repeated in
an error."""

import pytest
from cryptography.fernet import Fernet

from governance.access import secrets


def test_a_secret_comes_back_from_its_token_and_the_token_does_not_contain_it():
    token = secrets.encrypt("s3cret-value")

    assert "s3cret-value" not in token
    assert secrets.decrypt(token) == "s3cret-value"


def test_a_rotated_key_list_still_opens_tokens_made_with_the_old_key(settings):
    old = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    token = secrets.encrypt("kept")

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]

    assert secrets.decrypt(token) == "kept"
    assert secrets.decrypt(secrets.encrypt("new")) == "new"


def test_a_token_no_key_opens_is_an_error_that_names_no_secret(settings):
    token = secrets.encrypt("hidden-value")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(secrets.SecretUnreadable) as caught:
        secrets.decrypt(token)
    assert "hidden-value" not in str(caught.value) and token not in str(caught.value)
