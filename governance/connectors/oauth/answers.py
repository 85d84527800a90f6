"""Reading an authorization server's answers for the oauth connector: error bodies (RFC 6749
§5.2) turned into ConnectorErrors with a hint, times, and where its metadata lives. Plain
functions, no I/O."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

from governance.connectors import transport
from governance.connectors.base import ConnectorError, IdpGrant


def discovery_urls(issuer: str) -> list[str]:
    parts = urlsplit(issuer)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    return [
        f"{issuer}/.well-known/openid-configuration",
        f"{origin}/.well-known/oauth-authorization-server{path}",  # RFC 8414 §3.1
    ]


def failure(response: transport.Response, call: str) -> ConnectorError:
    """A ConnectorError from an unexpected status, with the IdP's error code and a hint."""
    code, description = "", ""
    try:
        body = response.json(call=call)
        if isinstance(body, dict):
            code = str(body.get("error", ""))[:80]
            description = str(body.get("error_description", ""))[:200]
    except ConnectorError:
        pass
    hint = HINTS.get(response.status, "unexpected answer")
    message = f"{hint}{': ' + description if description else ''}"
    return ConnectorError(
        message,
        call=call,
        endpoint=response.endpoint,
        status=response.status,
        error_code=code,
        retry_after=transport.retry_after(response),
    )


HINTS = {
    400: "the AS refused the request",
    401: "the AS rejected the console's client credentials (check client_id and the secret)",
    403: "the console's client lacks permission for this call",
    404: "no such endpoint at the AS",
    429: "rate limited by the AS",
    500: "the AS failed (server error)",
    502: "the AS is unreachable behind its gateway",
    503: "the AS is unavailable",
}


def redact(token: str) -> str:
    return f"{token[:6]}…" if len(token) > 10 else "…"


def when(value) -> datetime.datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.datetime.fromtimestamp(value, tz=datetime.UTC)


def grant(item: dict) -> IdpGrant:
    """One grant as the grants_url convention lists it (times in epoch seconds)."""
    return IdpGrant(
        idp_id=str(item.get("id", "")),
        subject=str(item.get("subject", "")),
        client_id=str(item.get("client_id", "")),
        scopes=tuple(str(item.get("scope", "")).split()),
        created=when(item.get("created_at")),
        expires=when(item.get("expires_at")),
        grant_type=str(item.get("grant_type", "")),
        raw=item,
    )
