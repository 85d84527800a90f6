"""Reading Google's answers for the google connector: token records normalised onto IdpGrant,
the service-account key file, and Google's errors turned into ConnectorErrors that name the
missing scope or delegation. Plain functions, no I/O."""

from __future__ import annotations

import base64

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from governance.connectors import transport
from governance.connectors.base import ConnectorError, IdpGrant

RATE_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded", "quotaExceeded"})


def grant(token: dict, user_key: str) -> IdpGrant:
    """A user's token grant to an app; Google keys it by (userKey, clientId), no id."""
    return IdpGrant(
        idp_id="",
        subject=str(token.get("userKey") or user_key),
        client_id=str(token.get("clientId", "")),
        scopes=tuple(str(s) for s in token.get("scopes") or ()),
        grant_type="consent",
        raw=token,
    )


def service_account(secret: str) -> dict:
    """The key file's fields and its loaded signer; errors never quote the key."""
    try:
        key = orjson.loads(secret)
    except ValueError:
        key = None
    if not isinstance(key, dict) or not all(
        isinstance(key.get(field), str) for field in ("client_email", "private_key")
    ):
        raise ConnectorError(
            "the secret must be the service account's JSON key (client_email, private_key)",
            call="configure",
            error_code="invalid_secret",
        )
    try:
        signer = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        signer = None
    if not isinstance(signer, rsa.RSAPrivateKey):
        raise ConnectorError(
            "the key file's private_key is not an RSA private key in PEM",
            call="configure",
            error_code="invalid_secret",
        )
    return {**{k: v for k, v in key.items() if k != "private_key"}, "signer": signer}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def failure(response: transport.Response, call: str, scope: str, *, token=False):
    """A ConnectorError from an unexpected status: Google's reason, the missing scope or
    delegation on a refusal, a retry hint on a rate error."""
    code, message = "", ""
    try:
        body = response.json(call=call)
    except ConnectorError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):  # the Directory API
        error = body["error"]
        reasons = [e.get("reason", "") for e in error.get("errors") or () if isinstance(e, dict)]
        code = str(reasons[0] if reasons else error.get("status", ""))[:80]
        message = str(error.get("message", ""))[:200]
    elif isinstance(body, dict):  # the token URL (RFC 6749 §5.2)
        code = str(body.get("error", ""))[:80]
        message = str(body.get("error_description", ""))[:200]
    rate_limited = response.status == 429 or (response.status == 403 and code in RATE_REASONS)
    if rate_limited:
        hint = "rate limited by Google"
    elif token:
        hint = (
            f"Google refused a token for {scope}: check the key, and that the service "
            "account's client id is delegated this scope (Admin console, Security, API "
            "controls, Domain-wide delegation) and admin_email is a super admin"
        )
    elif response.status == 403:
        hint = f"the impersonated admin or the delegation lacks {scope}"
    else:
        hint = HINTS.get(response.status, "unexpected answer")
    retry_after = None
    if rate_limited or response.status >= 500:
        retry_after = transport.retry_after(response)
        if rate_limited and retry_after is None:
            retry_after = 1.0
    return ConnectorError(
        f"{hint}{': ' + message if message else ''}",
        call=call,
        endpoint=response.endpoint,
        status=response.status,
        error_code=code,
        retry_after=retry_after,
    )


HINTS = {
    400: "Google refused the request",
    401: "Google rejected the access token",
    404: "no such user or endpoint",
    500: "Google failed (server error)",
    503: "Google is unavailable",
}
