"""The entra connector's credential: a client secret, or a certificate's private key (PEM)
that signs an RFC 7523 client assertion (assertion.certificate_assertion) for each token
request."""

from __future__ import annotations

from collections.abc import Callable

from governance.connectors import assertion
from governance.connectors.base import ConnectorError

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def is_private_key(secret: str) -> bool:
    """Whether the credential is a certificate's private key (PEM) rather than a secret."""
    return "PRIVATE KEY-----" in secret


def certificate_signer(config: dict, token_url: str, pem: str) -> Callable[[], dict[str, str]]:
    """The token request's client-assertion fields for a certificate credential, signed
    afresh for each request; a missing thumbprint or an unusable key fails here, at once."""
    thumbprint = str(config.get("certificate_thumbprint") or "")
    if not thumbprint:
        raise ConnectorError(
            "a certificate credential (a PEM private key) needs the config's "
            "'certificate_thumbprint' (the certificate's SHA-1 thumbprint shown by Entra)",
            call="configure",
        )

    def signed() -> dict[str, str]:
        client_id = str(config["client_id"])
        return {
            "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion.certificate_assertion(
                client_id=client_id, audience=token_url, pem=pem, thumbprint=thumbprint
            ),
        }

    try:
        signed()
    except assertion.InvalidKey as exc:
        raise ConnectorError(str(exc), call="configure") from None
    return signed
