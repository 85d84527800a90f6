"""assertion.py: the private_key_jwt client assertion a connector signs with its PEM key, and
Entra's certificate form of it."""

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from governance.connectors.assertion import (
    InvalidKey,
    certificate_assertion,
    client_assertion,
    x5t,
)

TOKEN_URL = "https://example.okta.com/oauth2/v1/token"


def _pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _decode(part: str):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_an_rsa_key_signs_rs256_for_the_token_endpoint():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    header, claims, signature = client_assertion(
        client_id="0oa1", audience=TOKEN_URL, pem=_pem(key)
    ).split(".")

    assert json.loads(_decode(header)) == {"alg": "RS256", "typ": "JWT"}
    body = json.loads(_decode(claims))
    assert body["iss"] == body["sub"] == "0oa1" and body["aud"] == TOKEN_URL
    assert body["exp"] > body["iat"] and body["jti"]
    key.public_key().verify(
        _decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_a_p256_key_signs_es256_with_the_jws_signature_form():
    key = ec.generate_private_key(ec.SECP256R1())

    header, claims, signature = client_assertion(
        client_id="0oa1", audience=TOKEN_URL, pem=_pem(key), key_id="k1"
    ).split(".")

    assert json.loads(_decode(header)) == {"alg": "ES256", "typ": "JWT", "kid": "k1"}
    raw = _decode(signature)
    assert len(raw) == 64  # r || s, not DER
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))


def test_a_key_that_cannot_sign_rs256_or_es256_is_refused():
    with pytest.raises(InvalidKey):
        client_assertion(
            client_id="0oa1", audience=TOKEN_URL, pem=_pem(ec.generate_private_key(ec.SECP384R1()))
        )


def test_x5t_is_the_base64url_of_the_thumbprint_bytes_however_the_hex_is_written():
    thumbprint = bytes(range(20))
    expected = base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode()

    assert x5t(thumbprint.hex().upper()) == x5t(thumbprint.hex(":")) == expected
    with pytest.raises(InvalidKey, match="40 hex digits"):
        x5t(hashlib.sha256(b"a SHA-256 thumbprint is not Entra's x5t").hexdigest())


def test_a_certificate_assertion_names_the_certificate_and_lives_ten_minutes():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    header, claims, signature = certificate_assertion(
        client_id="app", audience=TOKEN_URL, pem=_pem(key), thumbprint="ab" * 20, now=1000
    ).split(".")

    assert json.loads(_decode(header)) == {"alg": "RS256", "typ": "JWT", "x5t": x5t("ab" * 20)}
    body = json.loads(_decode(claims))
    assert (body["nbf"], body["exp"], body["iss"], body["sub"]) == (1000, 1600, "app", "app")
    key.public_key().verify(
        _decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    with pytest.raises(InvalidKey, match="RSA"):
        certificate_assertion(
            client_id="app",
            audience=TOKEN_URL,
            pem=_pem(ec.generate_private_key(ec.SECP256R1())),
            thumbprint="ab" * 20,
        )
