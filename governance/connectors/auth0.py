"""The `auth0` kind: an Auth0 tenant through its Management API v2.

- Token: client credentials at `https://{domain}/oauth/token` with the audience
  `https://{domain}/api/v2/` (a Management API machine-to-machine application). The token is
  fetched once and again on expiry or a 401.
- Identities: `GET /users` (`page`/`per_page`; Auth0 returns at most 1,000 users this way, so
  a larger tenant is a `too_many_users` error rather than a partial list).
  Clients: `GET /clients` (`page`/`per_page`).
- Grants, normalised per idp.md §0: user consents (`GET /grants`, `page`/`per_page`, grant type
  `consent`), each user's refresh tokens (`GET /users/{id}/refresh-tokens`, `from`/`take`
  checkpoints; Enterprise plan only, turned off with `list_refresh_tokens: false`) and client
  grants, the machine-to-machine permissions (`GET /client-grants`, `from`/`take`, grant type
  `application_permission`, no user: `subject` is empty).
- Revoke: `DELETE /grants/{id}`, `/refresh-tokens/{id}` (eventually consistent at Auth0) or
  `/client-grants/{id}`, by the grant's type; a 404 means already revoked. Revoking a token
  value is NotSupported: Auth0's `/oauth/revoke` only takes the issuing client's credentials.
- Deactivate: NotSupported (Auth0 clients have no enabled flag). Introspect: NotSupported.
- Rate limits: `X-RateLimit-Limit/Remaining/Reset` (reset in epoch seconds, measured against
  the server's `Date`), paced by pacing.py's Pacer: when a response says nothing remains, the
  next call waits for the reset instead of collecting a 429. A 429 is a retryable
  ConnectorError whose `retry_after` comes from its `Retry-After`, else its own
  `X-RateLimit-Reset`, else the window's reset as the last answer announced it.

Config: `domain`, `client_id` (required); `list_refresh_tokens` (default true), `page_size`
(default 100), `timeout_seconds` (default 20). URL overrides (tests): `api_url` (default
`https://{domain}/api/v2`), `token_url` (default `https://{domain}/oauth/token`).
The secret is the M2M application's client secret.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import httpx

from governance.connectors import pacing, transport
from governance.connectors.base import (
    ALL_CAPABILITIES,
    DEACTIVATE,
    INTROSPECT,
    LIST_CLIENTS,
    LIST_GRANTS,
    LIST_IDENTITIES,
    REVOKE,
    VERIFY,
    Check,
    Connector,
    ConnectorError,
    IdpClient,
    IdpGrant,
    IdpIdentity,
    NotSupported,
    RevokeResult,
)

# Auth0 pages through at most 1,000 users; beyond, only a user export job lists them all.
USERS_CAP = 1000
_BUCKET = "api"
_RATE_HEADERS = {
    "limit": "x-ratelimit-limit",
    "remaining": "x-ratelimit-remaining",
    "reset": "x-ratelimit-reset",
}
PROBE_ID = "mcp-console-verify-probe"  # an id no Auth0 object has: deleting it is harmless

# grant type -> (collection path, the scope its DELETE needs)
_REVOKE_PATHS = {
    "consent": ("grants", "delete:grants"),
    "refresh_token": ("refresh-tokens", "delete:refresh_tokens"),
    "application_permission": ("client-grants", "delete:client_grants"),
}
_REFRESH_SCOPE_HINT = (
    "read:refresh_tokens (listing refresh tokens needs the Enterprise plan; set "
    "list_refresh_tokens to false otherwise)"
)
_WHY_NOT = {
    DEACTIVATE: (
        "Auth0 clients have no enabled flag; revoke the client's grants (client grants stop "
        "client-credentials tokens) or rotate its secret instead"
    ),
    INTROSPECT: "Auth0 has no token introspection (RFC 7662)",
}


class Auth0Connector(Connector):
    """A connection to one Auth0 tenant's Management API."""

    kind = "auth0"
    capabilities = frozenset({VERIFY, LIST_IDENTITIES, LIST_CLIENTS, LIST_GRANTS, REVOKE})

    def __init__(self, config, secret, *, mock: httpx.MockTransport | None = None):
        super().__init__(config, secret)
        for key in ("domain", "client_id"):
            if not self.config.get(key):
                raise ConnectorError(f"the config needs {key!r}", call="configure")
        domain = self.config["domain"].strip().rstrip("/")
        self.audience = f"https://{domain}/api/v2/"
        self.api_url = (self.config.get("api_url") or f"https://{domain}/api/v2").rstrip("/")
        self.token_url = self.config.get("token_url") or f"https://{domain}/oauth/token"
        self.refresh_tokens = bool(self.config.get("list_refresh_tokens", True))
        try:
            total = float(self.config.get("timeout_seconds", 20))
            self.page_size = min(100, max(1, int(self.config.get("page_size", 100))))
        except (TypeError, ValueError):
            raise ConnectorError(
                "timeout_seconds and page_size must be numbers", call="configure"
            ) from None
        self.timeouts = transport.Timeouts(connect=min(5.0, total), read=total, total=total)
        self._mock = mock  # tests of odd answers only
        self._token: tuple[str, float] | None = None  # (access token, monotonic expiry)
        self.sleep = time.sleep  # tests replace it to see the pacing without waiting
        # One bucket: Auth0's Management API limit is per tenant.
        self.pacer = pacing.Pacer(sleep=lambda seconds: self.sleep(seconds))

    def unsupported(self, capability: str, why: str = "") -> NotSupported:
        why = why or _WHY_NOT.get(capability, "")
        action = capability.replace("_", " ")
        return super().unsupported(capability, f"cannot {action}: {why}" if why else "")

    # --- the interface ----------------------------------------------------------------------

    def verify(self) -> list[Check]:
        checks = []
        for capability in ALL_CAPABILITIES:
            if capability not in self.capabilities:
                checks.append(Check(capability, False, str(self.unsupported(capability))))
                continue
            try:
                checks.append(Check(capability, True, self._probe(capability)))
            except ConnectorError as exc:
                checks.append(Check(capability, False, str(exc)))
        return checks

    def list_identities(self) -> Iterator[IdpIdentity]:
        for user in self._pages("users", LIST_IDENTITIES, "read:users"):
            yield IdpIdentity(
                idp_id=str(user.get("user_id", "")),
                subject=str(user.get("user_id", "")),
                display_name=str(user.get("name") or ""),
                email=str(user.get("email") or ""),
                active=not user.get("blocked", False),
                raw=user,
            )

    def list_clients(self) -> Iterator[IdpClient]:
        for client in self._pages("clients", LIST_CLIENTS, "read:clients"):
            yield IdpClient(
                idp_id=str(client.get("client_id", "")),
                client_id=str(client.get("client_id", "")),
                name=str(client.get("name") or ""),
                raw=client,
            )

    def list_grants(self) -> Iterator[IdpGrant]:
        for grant in self._pages("grants", LIST_GRANTS, "read:grants"):
            yield IdpGrant(
                idp_id=str(grant.get("id", "")),
                subject=str(grant.get("user_id", "")),
                client_id=str(grant.get("clientID") or grant.get("client_id") or ""),
                scopes=tuple(str(s) for s in grant.get("scope") or ()),
                grant_type="consent",
                raw=grant,
            )
        for grant in self._checkpoints("client-grants", "read:client_grants"):
            yield IdpGrant(
                idp_id=str(grant.get("id", "")),
                subject="",  # a client's own permission to an API: no user
                client_id=str(grant.get("client_id", "")),
                scopes=tuple(str(s) for s in grant.get("scope") or ()),
                grant_type="application_permission",
                raw=grant,
            )
        if self.refresh_tokens:
            for user in self._pages("users", LIST_GRANTS, "read:users"):
                yield from self._user_refresh_tokens(str(user.get("user_id", "")))

    def revoke(self, grant_or_token: IdpGrant | str) -> RevokeResult:
        if not isinstance(grant_or_token, IdpGrant):
            raise self.unsupported(
                REVOKE,
                "Auth0 revokes a token value only at /oauth/revoke with the issuing client's "
                "credentials; revoke the listed grant or refresh token instead",
            )
        grant = grant_or_token
        if grant.grant_type not in _REVOKE_PATHS:
            raise self.unsupported(REVOKE, f"no Auth0 call revokes a {grant.grant_type!r} grant")
        collection, scope = _REVOKE_PATHS[grant.grant_type]
        response = self._api("DELETE", f"{collection}/{quote(grant.idp_id, safe='')}", REVOKE)
        if response.status in (200, 202, 204):
            return RevokeResult(
                RevokeResult.REVOKED, grant.idp_id, response.endpoint, response.status
            )
        if response.status == 404:  # gone already: success, recorded distinctly
            return RevokeResult(
                RevokeResult.ALREADY_ABSENT, grant.idp_id, response.endpoint, response.status
            )
        raise _failure(response, REVOKE, scope)

    # --- listing ----------------------------------------------------------------------------

    def _pages(self, collection: str, call: str, scope: str) -> Iterator[dict]:
        """Offset pages (`page`/`per_page`, `include_totals`) until one is short or empty."""
        page, previous = 0, None
        while True:
            params = {"page": page, "per_page": self.page_size, "include_totals": "true"}
            body = self._get(collection, params, call, scope)
            items = body.get(collection) if isinstance(body, dict) else body
            if not isinstance(items, list):
                raise ConnectorError.unexpected_shape(collection, call=call, endpoint=self.api_url)
            first = _item_id(items[0], collection) if items else None
            if first is not None and first == previous:  # a server ignoring `page`
                raise _repeated(call, f"{self.api_url}/{collection}", f"page {page}")
            total = body.get("total") if isinstance(body, dict) else None
            if collection == "users" and isinstance(total, int) and total > USERS_CAP:
                raise _too_many_users(call, f"{self.api_url}/users", total)
            yield from (item for item in items if isinstance(item, dict))
            seen = page * self.page_size + len(items)
            if len(items) < self.page_size or (isinstance(total, int) and seen >= total):
                return
            page, previous = page + 1, first

    def _checkpoints(self, path: str, scope: str, key: str = "", call=LIST_GRANTS):
        """Checkpoint pages (`from`/`take`, answer `{<key>: [...], next}`) until no `next`."""
        key = key or path.replace("-", "_")
        cursor, seen = None, set()
        while True:
            params = {"take": self.page_size} | ({"from": cursor} if cursor else {})
            body = self._get(path, params, call, scope)
            items = body.get(key) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ConnectorError.unexpected_shape(key, call=call, endpoint=self.api_url)
            yield from (item for item in items if isinstance(item, dict))
            cursor = body.get("next")
            if not cursor or not items:
                return
            if cursor in seen:
                raise _repeated(call, f"{self.api_url}/{path}", f"cursor {cursor!r}")
            seen.add(cursor)

    def _user_refresh_tokens(self, user_id: str) -> Iterator[IdpGrant]:
        path = f"users/{quote(user_id, safe='')}/refresh-tokens"
        for token in self._checkpoints(path, _REFRESH_SCOPE_HINT, key="tokens"):
            scopes = []
            for server in token.get("resource_servers") or ():
                if isinstance(server, dict):
                    scopes.extend(str(server.get("scopes") or "").split())
            yield IdpGrant(
                idp_id=str(token.get("id", "")),
                subject=str(token.get("user_id") or user_id),
                client_id=str(token.get("client_id", "")),
                scopes=tuple(dict.fromkeys(scopes)),
                created=_when(token.get("created_at")),
                expires=_when(token.get("expires_at")),
                grant_type="refresh_token",
                raw=token,
            )

    def _get(self, path: str, params: dict, call: str, scope: str):
        response = self._api("GET", f"{path}?{urlencode(params)}", call)
        if response.status != 200:
            raise _failure(response, call, scope)
        return response.json(call=call)

    # --- calls ------------------------------------------------------------------------------

    def _api(self, method: str, path: str, call: str) -> transport.Response:
        """One Management API call, paced by the last rate-limit headers; a 401 fetches a new
        token once (it may have expired early)."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._access_token(call)}"}
            response = self._send(method, f"{self.api_url}/{path}", call, headers=headers)
            if response.status != 401 or attempt == 2:
                return response
            self._token = None
        raise AssertionError("unreachable")  # pragma: no cover

    def _access_token(self, call: str) -> str:
        if self._token and self._token[1] > time.monotonic():
            return self._token[0]
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config["client_id"],
            "client_secret": self.secret,
            "audience": self.audience,
        }
        response = self._send("POST", self.token_url, call, form=form)
        if response.status != 200:
            raise _failure(response, call, "", token=True)
        body = response.json(call=call)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ConnectorError.unexpected_shape(
                "access_token", call=call, endpoint=self.token_url
            )
        lifetime = body.get("expires_in") if isinstance(body.get("expires_in"), int) else 3600
        # Renew a minute early so a long listing never sends an expired token.
        self._token = (body["access_token"], time.monotonic() + max(0, lifetime - 60))
        return self._token[0]

    def _send(self, method, url, call, *, headers=None, form=None) -> transport.Response:
        self.pacer.before(_BUCKET)
        try:
            response = transport.request(
                method,
                url,
                call=call,
                headers=headers,
                form=form,
                timeouts=self.timeouts,
                mock=self._mock,
            )
        except ConnectorError as exc:
            if exc.status != 429:
                raise
            # The transport read the 429's Retry-After, else its own X-RateLimit-Reset.
            raise self._rate_limited(call, url, exc.retry_after) from None
        if response.status == 429:  # only through a test's mock transport
            wait = transport.retry_after(response)
            if wait is None:
                wait = pacing.reset_after(response.headers, names=(_RATE_HEADERS["reset"],))
            raise self._rate_limited(call, url, wait)
        self.pacer.observe(_BUCKET, pacing.window_from_headers(response.headers, **_RATE_HEADERS))
        return response

    def _rate_limited(self, call: str, url: str, wait: float | None) -> ConnectorError:
        if wait is None:  # the window's reset as the last answer announced it
            wait = self.pacer.reset_in(_BUCKET) or 1.0
        return ConnectorError(
            "rate limited by Auth0",
            call=call,
            endpoint=url,
            status=429,
            error_code="too_many_requests",
            retry_after=wait,
        )

    # --- verify, one capability -------------------------------------------------------------

    def _probe(self, capability: str) -> str:
        if capability == REVOKE:
            # Deleting a grant id that does not exist is harmless and proves delete:grants.
            grant = IdpGrant(idp_id=PROBE_ID, subject="", client_id="", grant_type="consent")
            result = self.revoke(grant)
            return f"{result.endpoint} answered HTTP {result.status} (delete:grants)"
        path, scope = {
            LIST_IDENTITIES: ("users", "read:users"),
            LIST_CLIENTS: ("clients", "read:clients"),
            LIST_GRANTS: ("grants", "read:grants"),
        }[capability]
        self._get(path, {"page": 0, "per_page": 1}, capability, scope)
        if capability == LIST_GRANTS:
            self._get("client-grants", {"take": 1}, capability, "read:client_grants")
            scope += ", read:client_grants"
            if self.refresh_tokens:  # an unknown user's tokens: 404 or empty, 403 without scope
                probe = f"users/{PROBE_ID}/refresh-tokens"
                response = self._api("GET", f"{probe}?take=1", capability)
                if response.status not in (200, 404):
                    raise _failure(response, capability, _REFRESH_SCOPE_HINT)
                scope += ", read:refresh_tokens"
        return f"{self.api_url}/{path} answered ({scope})"


def _failure(response: transport.Response, call: str, scope: str, *, token=False):
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
        hint = _HINTS.get(response.status, "unexpected answer")
    retry_after = transport.retry_after(response) if response.status >= 500 else None
    return ConnectorError(
        f"{hint}{': ' + message if message else ''}",
        call=call,
        endpoint=response.endpoint,
        status=response.status,
        error_code=code,
        retry_after=retry_after,
    )


_HINTS = {
    400: "Auth0 refused the request",
    401: "Auth0 rejected the Management API token",
    404: "no such Auth0 endpoint or object",
    500: "Auth0 failed (server error)",
    503: "Auth0 is unavailable",
}


def _item_id(item, collection: str):
    if not isinstance(item, dict):
        return None
    return item.get("id") or item.get(f"{collection.removesuffix('s')}_id")


def _too_many_users(call: str, endpoint: str, total: int) -> ConnectorError:
    # Refused rather than listed in part: a sync would mark the users it missed as vanished.
    return ConnectorError(
        f"the tenant has {total} users and Auth0's /users lists at most {USERS_CAP}; "
        "the auth0 connector does not run user export jobs",
        call=call,
        endpoint=endpoint,
        error_code="too_many_users",
    )


def _repeated(call: str, endpoint: str, where: str) -> ConnectorError:
    return ConnectorError(
        f"the IdP answered {where} with a page it had already sent; stopped rather than loop",
        call=call,
        endpoint=endpoint,
        error_code="repeated_cursor",
    )


def _when(value) -> datetime.datetime | None:
    """An Auth0 date (ISO 8601 string, or `{"date": ...}`) as an aware datetime."""
    if isinstance(value, dict):
        value = value.get("date")
    if not isinstance(value, str):
        return None
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)
