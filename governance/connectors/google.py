"""The `google` kind: a Google Workspace domain through the Admin SDK Directory API.

- Token: a service account with domain-wide delegation. The connector signs an RS256 JWT
  assertion with the account's private key (`iss` = its `client_email`, `sub` = the
  `admin_email` it impersonates, `scope`, `aud` = the token URL, one hour) and exchanges it at
  the token URL (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`). One token per scope
  set, so a scope the domain did not delegate fails only the capabilities that need it:
  listing users needs `admin.directory.user.readonly`; tokens (list and delete) need
  `admin.directory.user.security`.
- Identities: `GET /admin/directory/v1/users?customer=…` (`maxResults`/`pageToken`).
- Grants: per user, `GET /admin/directory/v1/users/{userKey}/tokens`: the third-party OAuth
  apps the user authorised (no pagination, no timestamps, no id: a grant is keyed by user and
  `clientId`, so `idp_id` is empty). Grant type `consent`.
- Revoke: `DELETE /admin/directory/v1/users/{userKey}/tokens/{clientId}` ("deletes all access
  tokens issued by a user for an application"); a 404 means already revoked. A token value is
  NotSupported (Google's token revocation endpoint is not an admin call).
- Clients, deactivate, introspect: NotSupported (the Directory API lists no OAuth clients and
  cannot disable a third-party app; Google has no RFC 7662).
- Rate limits: Google sends no remaining-count header, so the connector spaces its Directory
  calls to `requests_per_minute` (default 2,400, Google's default per-user quota). 403
  `userRateLimitExceeded`/`rateLimitExceeded`/`quotaExceeded` and 429 are retryable
  ConnectorErrors: `retry_after` is `Retry-After` when given, else the first step of the
  exponential backoff Google documents (1 s).

Config: `admin_email` (required: a super admin the service account impersonates), `customer`
(default `my_customer`), `page_size` (default 500), `requests_per_minute` (default 2400),
`timeout_seconds` (default 20). URL
overrides (tests): `token_url` (default the key's `token_uri`, else
`https://oauth2.googleapis.com/token`), `directory_url` (default `https://admin.googleapis.com`).
The secret is the service account's key file (JSON).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import httpx
import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from governance.connectors import transport
from governance.connectors.base import (
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
    IdpGrant,
    IdpIdentity,
    RevokeResult,
)

SCOPE_USERS = "https://www.googleapis.com/auth/admin.directory.user.readonly"
SCOPE_TOKENS = "https://www.googleapis.com/auth/admin.directory.user.security"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DIRECTORY = "admin/directory/v1"
PROBE_CLIENT = "mcp-console-verify-probe.apps.googleusercontent.com"  # no app has this id
_RATE_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded", "quotaExceeded"})
_WHY_NOT = {
    LIST_CLIENTS: (
        "the Directory API lists no OAuth clients; each grant names its client "
        "(clientId, displayText)"
    ),
    DEACTIVATE: (
        "the Directory API cannot disable a third-party app; revoke its tokens per user, "
        "or block it under API controls in the Admin console"
    ),
    INTROSPECT: "Google has no token introspection (RFC 7662) for admin use",
}


class GoogleConnector(Connector):
    """A connection to one Google Workspace domain's Directory API."""

    why_not = _WHY_NOT

    kind = "google"
    capabilities = frozenset({VERIFY, LIST_IDENTITIES, LIST_GRANTS, REVOKE})

    def __init__(self, config, secret, *, mock: httpx.MockTransport | None = None):
        super().__init__(config, secret)
        if not self.config.get("admin_email"):
            raise ConnectorError("the config needs 'admin_email'", call="configure")
        self.admin_email = self.config["admin_email"]
        self.customer = self.config.get("customer") or "my_customer"
        self._key = _service_account(secret)
        self.token_url = (
            self.config.get("token_url")
            or self._key.get("token_uri")
            or "https://oauth2.googleapis.com/token"
        )
        base = self.config.get("directory_url") or "https://admin.googleapis.com"
        self.directory_url = f"{base.rstrip('/')}/{DIRECTORY}"
        try:
            total = float(self.config.get("timeout_seconds", 20))
            self.page_size = min(500, max(1, int(self.config.get("page_size", 500))))
            self.interval = 60.0 / max(1.0, float(self.config.get("requests_per_minute", 2400)))
        except (TypeError, ValueError):
            raise ConnectorError(
                "timeout_seconds, page_size and requests_per_minute must be numbers",
                call="configure",
            ) from None
        self.timeouts = transport.Timeouts(connect=min(5.0, total), read=total, total=total)
        self._mock = mock  # tests of odd answers only
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, monotonic expiry)
        self._next_call = 0.0  # monotonic time the next Directory call may start
        self.sleep = time.sleep  # tests replace it to see the pacing without waiting

    # --- the interface ----------------------------------------------------------------------

    def verify(self) -> list[Check]:
        return self.checks(self._probe)

    def list_identities(self) -> Iterator[IdpIdentity]:
        for user in self._users(LIST_IDENTITIES):
            name = user.get("name") if isinstance(user.get("name"), dict) else {}
            yield IdpIdentity(
                idp_id=str(user.get("id", "")),
                subject=str(user.get("id", "")),
                display_name=str(name.get("fullName") or ""),
                email=str(user.get("primaryEmail") or ""),
                active=not user.get("suspended", False),
                raw=user,
            )

    def list_grants(self) -> Iterator[IdpGrant]:
        for user in self._users(LIST_GRANTS):
            user_key = str(user.get("id", ""))
            body = self._get(f"users/{quote(user_key, safe='')}/tokens", {}, LIST_GRANTS)
            items = body.get("items", []) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ConnectorError.unexpected_shape(
                    "items", call=LIST_GRANTS, endpoint=self.directory_url
                )
            for token in items:
                if isinstance(token, dict):
                    yield IdpGrant(
                        idp_id="",  # Google keys a grant by (userKey, clientId)
                        subject=str(token.get("userKey") or user_key),
                        client_id=str(token.get("clientId", "")),
                        scopes=tuple(str(s) for s in token.get("scopes") or ()),
                        grant_type="consent",
                        raw=token,
                    )

    def revoke(self, grant_or_token: IdpGrant | str) -> RevokeResult:
        if not isinstance(grant_or_token, IdpGrant):
            raise self.unsupported(
                REVOKE,
                "the Directory API revokes a user's grant to an app, not a token value; "
                "revoke the listed grant instead",
            )
        grant = grant_or_token
        if not (grant.subject and grant.client_id):
            raise self.unsupported(REVOKE, "a Google grant is revoked by its user and client id")
        path = f"users/{quote(grant.subject, safe='')}/tokens/{quote(grant.client_id, safe='')}"
        response = self._call("DELETE", path, REVOKE, SCOPE_TOKENS)
        target = f"{grant.subject}/{grant.client_id}"
        if response.status in (200, 204):
            return RevokeResult(RevokeResult.REVOKED, target, response.endpoint, response.status)
        if response.status == 404:  # gone already: success, recorded distinctly
            return RevokeResult(
                RevokeResult.ALREADY_ABSENT, target, response.endpoint, response.status
            )
        raise _failure(response, REVOKE, SCOPE_TOKENS)

    # --- listing ----------------------------------------------------------------------------

    def _users(self, call: str) -> Iterator[dict]:
        """Every user of the customer, page by page (`pageToken`), stopping on a repeat."""
        page_token, seen = "", set()
        while True:
            params = {"customer": self.customer, "maxResults": self.page_size}
            if page_token:
                params["pageToken"] = page_token
            body = self._get("users", params, call, SCOPE_USERS)
            users = body.get("users", []) if isinstance(body, dict) else None
            if not isinstance(users, list):
                raise ConnectorError.unexpected_shape(
                    "users", call=call, endpoint=self.directory_url
                )
            yield from (user for user in users if isinstance(user, dict))
            page_token = body.get("nextPageToken") or ""
            if not page_token or not users:
                return
            if page_token in seen:
                raise ConnectorError(
                    f"the IdP answered pageToken {page_token!r} twice; stopped rather than loop",
                    call=call,
                    endpoint=f"{self.directory_url}/users",
                    error_code="repeated_cursor",
                )
            seen.add(page_token)

    def _get(self, path: str, params: dict, call: str, scope: str = SCOPE_TOKENS):
        query = f"?{urlencode(params)}" if params else ""
        response = self._call("GET", f"{path}{query}", call, scope)
        if response.status != 200:
            raise _failure(response, call, scope)
        return response.json(call=call)

    # --- calls ------------------------------------------------------------------------------

    def _call(self, method: str, path: str, call: str, scope: str) -> transport.Response:
        """One Directory API call with a token for `scope`; a 401 gets a new token once."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._access_token(scope, call)}"}
            self._pace()
            response = self._send(method, f"{self.directory_url}/{path}", call, headers=headers)
            if response.status != 401 or attempt == 2:
                return response
            self._tokens.pop(scope, None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _access_token(self, scope: str, call: str) -> str:
        cached = self._tokens.get(scope)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        form = {"grant_type": JWT_BEARER, "assertion": self._assertion(scope)}
        response = self._send("POST", self.token_url, call, form=form)
        if response.status != 200:
            raise _failure(response, call, scope, token=True)
        body = response.json(call=call)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ConnectorError.unexpected_shape(
                "access_token", call=call, endpoint=self.token_url
            )
        lifetime = body.get("expires_in") if isinstance(body.get("expires_in"), int) else 3600
        self._tokens[scope] = (body["access_token"], time.monotonic() + max(0, lifetime - 60))
        return body["access_token"]

    def _pace(self) -> None:
        """Space Directory calls `interval` apart: Google's quota is per minute, unannounced."""
        now = time.monotonic()
        if self._next_call > now:
            self.sleep(self._next_call - now)
        self._next_call = max(now, self._next_call) + self.interval

    def _send(self, method, url, call, *, headers=None, form=None) -> transport.Response:
        try:
            return transport.request(
                method,
                url,
                call=call,
                headers=headers,
                form=form,
                timeouts=self.timeouts,
                mock=self._mock,
            )
        except ConnectorError as exc:
            if exc.status != 429 or exc.retry_after is not None:
                raise
            # The safe fetcher answers a 429 itself; without Retry-After, Google's documented
            # exponential backoff starts at one second.
            raise ConnectorError(
                "rate limited by Google",
                call=call,
                endpoint=url,
                status=429,
                error_code=exc.error_code,
                retry_after=1.0,
            ) from None

    def _assertion(self, scope: str) -> str:
        """The RS256 JWT the token URL exchanges for an access token (RFC 7523)."""
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": self._key.get("private_key_id", "")}
        claims = {
            "iss": self._key["client_email"],
            "sub": self.admin_email,
            "scope": scope,
            "aud": self.token_url,
            "iat": now,
            "exp": now + 3600,
        }
        signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}".encode()
        signature = self._key["signer"].sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{_b64(signature)}"

    # --- verify, one capability -------------------------------------------------------------

    def _probe(self, capability: str) -> str:
        if capability == LIST_IDENTITIES:
            self._get(
                "users", {"customer": self.customer, "maxResults": 1}, capability, SCOPE_USERS
            )
            return f"{self.directory_url}/users answered ({SCOPE_USERS})"
        admin = quote(self.admin_email, safe="")
        if capability == LIST_GRANTS:
            self._get(f"users/{admin}/tokens", {}, capability)
            return f"{self.directory_url}/users/…/tokens answered ({SCOPE_TOKENS})"
        # Deleting the admin's tokens for an app that does not exist is harmless.
        result = self.revoke(IdpGrant(idp_id="", subject=self.admin_email, client_id=PROBE_CLIENT))
        return f"tokens.delete answered HTTP {result.status} ({SCOPE_TOKENS})"


def _service_account(secret: str) -> dict:
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _failure(response: transport.Response, call: str, scope: str, *, token=False):
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
    rate_limited = response.status == 429 or (response.status == 403 and code in _RATE_REASONS)
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
        hint = _HINTS.get(response.status, "unexpected answer")
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


_HINTS = {
    400: "Google refused the request",
    401: "Google rejected the access token",
    404: "no such user or endpoint",
    500: "Google failed (server error)",
    503: "Google is unavailable",
}
