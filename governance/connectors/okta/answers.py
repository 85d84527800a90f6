"""Reading Okta's answers: records normalised onto the connector dataclasses (idp.md §0),
Okta's error bodies, `Link` and `X-Rate-Limit-*` headers. Plain functions, no I/O."""

from __future__ import annotations

import datetime
import re
from urllib.parse import quote, urlsplit

from governance.connectors import pacing, transport
from governance.connectors.base import ConnectorError, IdpClient, IdpGrant, IdpIdentity

_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?')
_RATE_HEADERS = {
    "limit": "x-rate-limit-limit",
    "remaining": "x-rate-limit-remaining",
    "reset": "x-rate-limit-reset",
}


def identity(user: dict) -> IdpIdentity:
    """An Okta user; its id is the `sub` of its tokens, its manager the profile's `managerId`
    (Okta's default profile attribute, the manager's user id)."""
    profile = user.get("profile") or {}
    name = " ".join(str(profile.get(k) or "") for k in ("firstName", "lastName")).strip()
    return IdpIdentity(
        idp_id=str(user.get("id", "")),
        subject=str(user.get("id", "")),
        display_name=str(profile.get("displayName") or name or profile.get("login", "")),
        email=str(profile.get("email") or ""),
        active=user.get("status") == "ACTIVE",
        manager=str(profile.get("managerId") or ""),
        raw=user,
    )


def client(app: dict) -> IdpClient:
    """An Okta app: its OAuth client id when it has one (the same as the app id in Okta)."""
    oauth_client = (app.get("credentials") or {}).get("oauthClient") or {}
    return IdpClient(
        idp_id=str(app.get("id", "")),
        client_id=str(oauth_client.get("client_id") or app.get("id", "")),
        name=str(app.get("label") or app.get("name") or ""),
        active=app.get("status") == "ACTIVE",
        raw=app,
    )


def next_link(headers: dict[str, str]) -> str:
    """The `rel="next"` URL among an answer's Link headers, "" on the last page."""
    match = _LINK_NEXT.search(headers.get("link", ""))
    return match.group(1) if match else ""


def consent(record: dict, grant_type: str) -> IdpGrant:
    """A user's consent or an app's Okta-API scope grant: one record per scope."""
    scope = ((record.get("_embedded") or {}).get("scope") or {}).get("name")
    return IdpGrant(
        idp_id=str(record.get("id", "")),
        subject=str(record.get("userId") or ""),
        client_id=str(record.get("clientId") or ""),
        scopes=(str(scope or record.get("scopeId") or ""),),
        created=_when(record.get("created")),
        grant_type=grant_type,
        raw=record,
    )


def refresh_token(record: dict) -> IdpGrant:
    return IdpGrant(
        idp_id=str(record.get("id", "")),
        subject=str(record.get("userId") or ""),
        client_id=str(record.get("clientId") or ""),
        scopes=tuple(str(scope) for scope in record.get("scopes") or ()),
        created=_when(record.get("created")),
        expires=_when(record.get("expiresAt")),
        grant_type="refresh_token",
        raw=record,
    )


def connection(record: dict) -> IdpGrant:
    """A Cross App Access connection: the requesting app may get ID-JAGs for the resource app."""
    return IdpGrant(
        idp_id=str(record.get("id", "")),
        subject="",
        client_id=str(record.get("requestingAppInstanceId") or ""),
        created=_when(record.get("created")),
        grant_type="jwt_bearer",
        raw=record,
    )


def _okta_error(response: transport.Response, call: str) -> tuple[str, str]:
    """Okta's `errorCode` and `errorSummary` (E0000047 is a rate limit, E0000007 not found)."""
    try:
        body = response.json(call=call)
    except ConnectorError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("errorCode", ""))[:80], str(body.get("errorSummary", ""))[:200]


def window(headers: dict[str, str]) -> pacing.Window | None:
    return pacing.window_from_headers(headers, **_RATE_HEADERS)


def _when(value) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def seg(value) -> str:
    return quote(str(value or ""), safe="")


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def failure(response: transport.Response, call: str, scopes) -> ConnectorError:
    """A ConnectorError for an unexpected API answer, with Okta's errorCode and a hint naming
    the scopes the call needs."""
    code, summary = _okta_error(response, call)
    hint = {
        401: "Okta refused the access token",
        403: f"the service app lacks scope {' or '.join(scopes)} or an admin role for this",
        404: "Okta has no such object",
        429: "rate limited by Okta",
    }.get(response.status, "unexpected answer from Okta")
    if response.status >= 500:
        hint = "Okta failed (server error)"
    return ConnectorError(
        f"{hint}{': ' + summary if summary else ''}",
        call=call,
        endpoint=response.endpoint,
        status=response.status,
        error_code=code,
        retry_after=transport.retry_after(response),
    )


def token_failure(response: transport.Response, call: str, scopes) -> ConnectorError:
    """A ConnectorError for a token request Okta refused (RFC 6749 §5.2 error codes)."""
    code, description = "", ""
    try:
        body = response.json(call=call)
        if isinstance(body, dict):
            code = str(body.get("error", ""))[:80]
            description = str(body.get("error_description", ""))[:200]
    except ConnectorError:
        pass
    if code == "invalid_scope":
        hint = f"the service app is not granted scope {' '.join(scopes)}"
    elif response.status == 401 or code == "invalid_client":
        hint = "Okta refused the client assertion (check client_id, key_id and the key)"
    else:
        hint = "no access token from Okta"
    return ConnectorError(
        f"{hint}{': ' + description if description else ''}",
        call=call,
        endpoint=response.endpoint,
        status=response.status,
        error_code=code or "no_token",
        retry_after=transport.retry_after(response),
    )
