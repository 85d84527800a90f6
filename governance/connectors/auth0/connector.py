"""The auth0 connector: a Management API token by client credentials, paced and paginated
calls, listing, revoking and verifying (see the package docstring for what each capability
calls and needs)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import httpx

from governance.connectors import pacing, transport
from governance.connectors.auth0 import answers
from governance.connectors.auth0.containment import Containment
from governance.connectors.base import (
    CUT_OFF_IDENTITY,
    DEACTIVATE,
    INTROSPECT,
    LIST_CLIENTS,
    LIST_GRANTS,
    LIST_IDENTITIES,
    REVOKE,
    REVOKE_CLIENT_GRANTS,
    REVOKE_USER_CLIENT,
    VERIFY,
    Check,
    Connector,
    ConnectorError,
    IdpClient,
    IdpGrant,
    IdpIdentity,
    RevokeResult,
)

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
_WHY_NOT = {
    DEACTIVATE: (
        "Auth0 clients have no enabled flag; revoke the client's grants (client grants stop "
        "client-credentials tokens) or rotate its secret instead"
    ),
    INTROSPECT: "Auth0 has no token introspection (RFC 7662)",
}


class Auth0Connector(Containment, Connector):
    """A connection to one Auth0 tenant's Management API."""

    why_not = _WHY_NOT

    kind = "auth0"
    capabilities = frozenset(
        {VERIFY, LIST_IDENTITIES, LIST_CLIENTS, LIST_GRANTS, REVOKE}
        | {REVOKE_USER_CLIENT, CUT_OFF_IDENTITY, REVOKE_CLIENT_GRANTS}
    )

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

    # --- the interface ----------------------------------------------------------------------

    def verify(self) -> list[Check]:
        return self.checks(self._probe)

    def list_identities(self) -> Iterator[IdpIdentity]:
        for user in self._pages("users", LIST_IDENTITIES, "read:users"):
            yield answers.identity(user)

    def list_clients(self) -> Iterator[IdpClient]:
        for client in self._pages("clients", LIST_CLIENTS, "read:clients"):
            yield answers.client(client)

    def list_grants(self) -> Iterator[IdpGrant]:
        for grant in self._pages("grants", LIST_GRANTS, "read:grants"):
            yield answers.consent(grant)
        for grant in self._checkpoints("client-grants", "read:client_grants"):
            yield answers.client_grant(grant)
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
        raise answers.failure(response, REVOKE, scope)

    # --- listing ----------------------------------------------------------------------------

    def _pages(self, collection: str, call: str, scope: str, **filters: str) -> Iterator[dict]:
        """Offset pages (`page`/`per_page`, `include_totals`) until one is short or empty;
        `filters` narrow the list (`user_id`, `client_id` on /grants)."""
        page, previous = 0, None
        while True:
            params = {
                "page": page,
                "per_page": self.page_size,
                "include_totals": "true",
                **filters,
            }
            body = self._get(collection, params, call, scope)
            items = body.get(collection) if isinstance(body, dict) else body
            if not isinstance(items, list):
                raise ConnectorError.unexpected_shape(collection, call=call, endpoint=self.api_url)
            first = answers.item_id(items[0], collection) if items else None
            if first is not None and first == previous:  # a server ignoring `page`
                raise answers.repeated(call, f"{self.api_url}/{collection}", f"page {page}")
            total = body.get("total") if isinstance(body, dict) else None
            if collection == "users" and isinstance(total, int) and total > answers.USERS_CAP:
                raise answers.too_many_users(call, f"{self.api_url}/users", total)
            yield from (item for item in items if isinstance(item, dict))
            seen = page * self.page_size + len(items)
            if len(items) < self.page_size or (isinstance(total, int) and seen >= total):
                return
            page, previous = page + 1, first

    def _checkpoints(self, path: str, scope: str, key: str = "", call=LIST_GRANTS, **filters):
        """Checkpoint pages (`from`/`take`, answer `{<key>: [...], next}`) until no `next`."""
        key = key or path.replace("-", "_")
        cursor, seen = None, set()
        while True:
            params = {"take": self.page_size, **filters} | ({"from": cursor} if cursor else {})
            body = self._get(path, params, call, scope)
            items = body.get(key) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ConnectorError.unexpected_shape(key, call=call, endpoint=self.api_url)
            yield from (item for item in items if isinstance(item, dict))
            cursor = body.get("next")
            if not cursor or not items:
                return
            if cursor in seen:
                raise answers.repeated(call, f"{self.api_url}/{path}", f"cursor {cursor!r}")
            seen.add(cursor)

    def _user_refresh_tokens(self, user_id: str) -> Iterator[IdpGrant]:
        path = f"users/{quote(user_id, safe='')}/refresh-tokens"
        for token in self._checkpoints(path, answers.REFRESH_SCOPE_HINT, key="tokens"):
            yield answers.refresh_token(token, user_id)

    def _get(self, path: str, params: dict, call: str, scope: str):
        response = self._api("GET", f"{path}?{urlencode(params)}", call)
        if response.status != 200:
            raise answers.failure(response, call, scope)
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
            raise answers.failure(response, call, "", token=True)
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
        if capability in (REVOKE_USER_CLIENT, CUT_OFF_IDENTITY, REVOKE_CLIENT_GRANTS):
            return self._containment_probe(capability)
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
                    raise answers.failure(response, capability, answers.REFRESH_SCOPE_HINT)
                scope += ", read:refresh_tokens"
        return f"{self.api_url}/{path} answered ({scope})"

    def _containment_probe(self, capability: str) -> str:
        """The listing the call starts with, and a DELETE of an id no Auth0 object has (404 once
        the scope lets it through)."""
        if capability == CUT_OFF_IDENTITY:
            result = self._delete(
                f"users/{PROBE_ID}/sessions", PROBE_ID, capability, "delete:sessions"
            )
            return f"{result.endpoint} answered HTTP {result.status} (delete:sessions)"
        if capability == REVOKE_USER_CLIENT:
            self.grants_for(PROBE_ID, PROBE_ID)
            return f"{self.api_url}/grants answered (read:grants, delete:grants)"
        self._get(
            "client-grants", {"take": 1, "client_id": PROBE_ID}, capability, "read:client_grants"
        )
        result = self._delete(
            f"client-grants/{PROBE_ID}", PROBE_ID, capability, "delete:client_grants"
        )
        return f"{result.endpoint} answered HTTP {result.status} (delete:client_grants)"
