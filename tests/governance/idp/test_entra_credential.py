"""An Entra connection's credential is a certificate's private key (with the certificate's
thumbprint in the config) or a client secret: what kinds.py and the connection services accept,
and the message each refusal gives."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ValidationError

from governance.access import secrets
from governance.connectors.assertion import load_rsa_private_key
from governance.idp import connections, kinds
from tests.peers.entra import make_certificate, thumbprint

PEM, CERTIFICATE = make_certificate()
THUMBPRINT = thumbprint(CERTIFICATE)
CONFIG = {"tenant_id": "t-1", "client_id": "c-1"}


def _one_line(pem: str) -> str:
    """The key as a password input gives it back: every line break lost."""
    return " ".join(pem.split("\n"))


def test_a_client_secret_needs_no_thumbprint():
    assert kinds.validate_secret("entra", " s3cret-value ", config=CONFIG) == "s3cret-value"


def test_a_private_key_without_a_thumbprint_is_refused_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        kinds.validate_secret("entra", PEM, config=CONFIG)

    [message] = caught.value.message_dict["certificate_thumbprint"]
    assert "certificate_thumbprint" in message and "BEGIN" not in message


def test_a_pasted_private_key_gets_its_line_breaks_back():
    cleaned = kinds.validate_secret(
        "entra", _one_line(PEM), config={**CONFIG, "certificate_thumbprint": THUMBPRINT}
    )

    assert cleaned.strip() == PEM.strip()
    load_rsa_private_key(cleaned)


def test_a_key_entra_cannot_sign_with_is_refused_without_repeating_it():
    p256 = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )

    with pytest.raises(ValidationError) as caught:
        kinds.validate_secret("entra", p256, config={**CONFIG, "certificate_thumbprint": "ab" * 20})

    [message] = caught.value.message_dict["secret"]
    assert "RSA private key" in message and p256.split("\n")[1] not in message


# Ids that do not name the (freshly generated) thumbprint: parallel test processes must collect
# the same tests.
@pytest.mark.parametrize(
    "written",
    [THUMBPRINT, THUMBPRINT.lower(), "AB:" * 19 + "AB"],
    ids=["upper", "lower", "with-colons"],
)
def test_a_thumbprint_is_40_hex_digits_with_or_without_colons(written):
    config = kinds.validate_config("entra", {**CONFIG, "certificate_thumbprint": written})

    assert config["certificate_thumbprint"] == written


@pytest.mark.parametrize("written", ["abc", "zz" * 20, "ab" * 32])  # ab*32: a SHA-256 one
def test_a_thumbprint_that_is_not_sha1_hex_is_refused(written):
    with pytest.raises(ValidationError) as caught:
        kinds.validate_config("entra", {**CONFIG, "certificate_thumbprint": written})

    [message] = caught.value.message_dict["certificate_thumbprint"]
    assert "40 hex digits" in message


@pytest.mark.django_db
def test_adding_a_connection_with_a_certificate_stores_the_key_and_its_thumbprint(admin_user):
    connection = connections.add_connection(
        actor=admin_user,
        kind="entra",
        name="Corp Entra",
        config={**CONFIG, "certificate_thumbprint": THUMBPRINT},
        secret=_one_line(PEM),
    )

    assert secrets.decrypt(connection.secret_encrypted).strip() == PEM.strip()
    assert connection.config["certificate_thumbprint"] == THUMBPRINT


@pytest.mark.django_db
def test_rotating_a_secret_to_a_certificate_needs_the_thumbprint_first(admin_user):
    connection = connections.add_connection(
        actor=admin_user, kind="entra", name="Corp Entra", config=CONFIG, secret="s3cret-value"
    )

    with pytest.raises(ValidationError) as caught:
        connections.rotate_secret(actor=admin_user, connection=connection, secret=PEM)

    assert "certificate_thumbprint" in caught.value.message_dict
    connection.refresh_from_db()
    assert secrets.decrypt(connection.secret_encrypted) == "s3cret-value"
