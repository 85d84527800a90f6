"""Signed JWTs a connector presents as its own credential: a `private_key_jwt` client assertion
(RFC 7523 §2.2, OIDC Core §9), signed with the connection's PEM private key, and its Entra form
for a certificate credential (header `x5t` = the certificate's SHA-1 thumbprint, `nbf`, RS256).

Signed with `cryptography` directly (a JWT is three base64url parts; a library would add a
dependency for ten lines). RSA keys sign RS256, P-256 keys ES256; anything else is refused
with a message that names the key type, never the key.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

# okta-sdk-python signs its assertions for 50 minutes; a short life is enough for one request.
ASSERTION_LIFETIME_SECONDS = 300
# MSAL signs certificate assertions for 10 minutes; Entra checks nbf and exp.
CERTIFICATE_ASSERTION_SECONDS = 600


class InvalidKey(ValueError):
    """The secret is not a usable private key (the message never contains the key)."""


def load_private_key(pem: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """The PEM private key of a connection; InvalidKey when it is not one we can sign with."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidKey("the secret is not an unencrypted PEM private key") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise InvalidKey(f"a {type(key).__name__} cannot sign RS256 or ES256: use an RSA or P-256 key")


def load_rsa_private_key(pem: str) -> rsa.RSAPrivateKey:
    """The PEM private key of a certificate credential, which Entra verifies RS256 only."""
    key = load_private_key(pem)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidKey("an Entra certificate credential is an RSA key (RS256)")
    return key


def client_assertion(
    *, client_id: str, audience: str, pem: str, key_id: str = "", now: float | None = None
) -> str:
    """A private_key_jwt client assertion: iss = sub = client_id, aud = the token endpoint."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME_SECONDS,
        "jti": uuid.uuid4().hex,  # the AS may refuse a replayed assertion
    }
    return sign(claims, load_private_key(pem), key_id=key_id)


def certificate_assertion(
    *, client_id: str, audience: str, pem: str, thumbprint: str, now: float | None = None
) -> str:
    """An Entra client assertion for a certificate credential (RFC 7523, as Microsoft's
    "certificate credentials" page gives it): RS256, header `x5t` naming the certificate,
    iss = sub = client_id, aud = the token endpoint, nbf to exp 10 minutes, a fresh jti."""
    key = load_rsa_private_key(pem)
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + CERTIFICATE_ASSERTION_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    return sign(claims, key, x5t=x5t(thumbprint))


def x5t(thumbprint: str) -> str:
    """The JWS `x5t` header of a SHA-1 thumbprint written in hex (as Entra and the Windows
    certificate tools show it, colons or spaces allowed): the base64url of its 20 bytes."""
    digits = "".join(thumbprint.replace(":", " ").split())
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise InvalidKey("certificate_thumbprint is not a SHA-1 thumbprint (40 hex digits)")
    return _b64(raw)


def sign(
    claims: dict, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *, key_id="", x5t=""
) -> str:
    """A compact JWS of `claims` (RS256 for RSA keys, ES256 for P-256 keys); `key_id` and `x5t`
    name the key in the header when given."""
    alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    header = {"alg": alg, "typ": "JWT", **({"kid": key_id} if key_id else {})}
    header.update({"x5t": x5t} if x5t else {})
    signing_input = f"{_b64(_json(header))}.{_b64(_json(claims))}".encode("ascii")
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:  # JWS wants r || s, 32 bytes each, not the DER that cryptography returns (RFC 7518)
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{signing_input.decode('ascii')}.{_b64(signature)}"


def _json(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
