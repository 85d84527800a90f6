"""Reading Auth0's answers: records normalised onto the connector dataclasses (idp.md §0),
Auth0's error bodies turned into ConnectorErrors with a hint, and its dates. Plain functions,
no I/O."""

from __future__ import annotations

import datetime

from governance.connectors import transport
from governance.connectors.base import ConnectorError, IdpClient, IdpGrant, IdpIdentity

# Auth0 pages through at most 1,000 users; beyond, only a user export job lists them all.
USERS_CAP = 1000
REFRESH_SCOPE_HINT = (
    "read:refresh_tokens (listing refresh tokens needs the Enterprise plan; set "
    "list_refresh_tokens to false otherwise)"
)
HINTS = {
    400: "Auth0 refused the request",
    401: "Auth0 rejected the Management API token",
    404: "no such Auth0 endpoint or object",
    500: "Auth0 failed (server error)",
    503: "Auth0 is unavailable",
}


# --- records --------------------------------------------------------------------------------


def identity(user: dict) -> IdpIdentity:
    """An Auth0 user; a blocked one is inactive."""
    return IdpIdentity(
        idp_id=str(user.get("user_id", "")),
        subject=str(user.get("user_id", "")),
        display_name=str(user.get("name") or ""),
        email=str(user.get("email") or ""),
        active=not user.get("blocked", False),
        raw=user,
    )


def client(record: dict) -> IdpClient:
    """An Auth0 application (client)."""
    return IdpClient(
        idp_id=str(record.get("client_id", "")),
        client_id=str(record.get("client_id", "")),
        name=str(record.get("name") or ""),
        raw=record,
    )


def consent(grant: dict) -> IdpGrant:
    """A user's consent to a client (`GET /grants`)."""
    return IdpGrant(
        idp_id=str(grant.get("id", "")),
        subject=str(grant.get("user_id", "")),
        client_id=str(grant.get("clientID") or grant.get("client_id") or ""),
        scopes=tuple(str(s) for s in grant.get("scope") or ()),
        grant_type="consent",
        raw=grant,
    )


def client_grant(grant: dict) -> IdpGrant:
    """A machine-to-machine permission (`GET /client-grants`)."""
    return IdpGrant(
        idp_id=str(grant.get("id", "")),
        subject="",  # a client's own permission to an API: no user
        client_id=str(grant.get("client_id", "")),
        scopes=tuple(str(s) for s in grant.get("scope") or ()),
        grant_type="application_permission",
        raw=grant,
    )


def refresh_token(token: dict, user_id: str) -> IdpGrant:
    """One of a user's refresh tokens; its scopes gathered from every resource server."""
    scopes = []
    for server in token.get("resource_servers") or ():
        if isinstance(server, dict):
            scopes.extend(str(server.get("scopes") or "").split())
    return IdpGrant(
        idp_id=str(token.get("id", "")),
        subject=str(token.get("user_id") or user_id),
        client_id=str(token.get("client_id", "")),
        scopes=tuple(dict.fromkeys(scopes)),
        created=when(token.get("created_at")),
        expires=when(token.get("expires_at")),
        grant_type="refresh_token",
        raw=token,
    )


def item_id(item, collection: str):
    """The id of one listed item (`id`, else `<collection>_id`), to spot a repeated page."""
    if not isinstance(item, dict):
        return None
    return item.get("id") or item.get(f"{collection.removesuffix('s')}_id")


def when(value) -> datetime.datetime | None:
    """An Auth0 date (ISO 8601 string, or `{"date": ...}`) as an aware datetime."""
    if isinstance(value, dict):
        value = value.get("date")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


# --- errors ---------------------------------------------------------------------------------


def failure(response: transport.Response, call: str, scope: str, *, token=False):
    """A ConnectorError from an unexpected status: Auth0's error code, and the missing scope
    on a 403."""
    code, message = "", ""
    try:
        body = response.json(call=call)
        if isinstance(body, dict):
            code = str(body.get("errorCode") or body.get("error") or "")[:80]
            message = str(body.get("message") or body.get("error_description") or "")[:200]
    except ConnectorError:
        pass
    if token and response.status in (400, 401, 403):
        hint = "Auth0 refused the Management API token (check client_id, the secret, and that "
        hint += "the application is authorised for the Management API)"
    elif response.status == 403:
        hint = f"the Management API application lacks the scope {scope}"
    else:
        hint = HINTS.get(response.status, "unexpected answer")
    retry_after = transport.retry_after(response) if response.status >= 500 else None
    return ConnectorError(
        f"{hint}{': ' + message if message else ''}",
        call=call,
        endpoint=response.endpoint,
        status=response.status,
        error_code=code,
        retry_after=retry_after,
    )


def too_many_users(call: str, endpoint: str, total: int) -> ConnectorError:
    """The refusal to list a tenant past USERS_CAP users."""
    # Refused rather than listed in part: a sync would mark the users it missed as vanished.
    return ConnectorError(
        f"the tenant has {total} users and Auth0's /users lists at most {USERS_CAP}; "
        "the auth0 connector does not run user export jobs",
        call=call,
        endpoint=endpoint,
        error_code="too_many_users",
    )


def repeated(call: str, endpoint: str, where: str) -> ConnectorError:
    """The error that ends a listing whose page or cursor came back a second time."""
    return ConnectorError(
        f"the IdP answered {where} with a page it had already sent; stopped rather than loop",
        call=call,
        endpoint=endpoint,
        error_code="repeated_cursor",
    )
