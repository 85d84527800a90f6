"""The `okta` kind: an Okta org through its Management API, as an OAuth 2.0 service app.

Credential: a service app with `private_key_jwt` (idp.md §1.4). The console signs a client
assertion with the connection's PEM private key and asks the org authorization server for a
client-credentials token carrying only the scopes the call needs (`SCOPES`), one token per
scope set, cached until shortly before it expires. A scope the app was not granted is named in
the error, and `verify()` makes one harmless call per capability to say which one is missing.

Config: `domain` (the org, e.g. `acme.okta.com`), `client_id` (the service app's), optional
`key_id` (the `kid` of the app's public key), optional `timeout_seconds`. The secret is the PEM
private key. URL overrides, for tests on 127.0.0.1: `base_url` (default `https://<domain>`)
and `token_url` (default `<base_url>/oauth2/v1/token`).

What it lists (normalised per idp.md §0 onto `IdpGrant`):
- identities: `GET /api/v1/users` (the manager's id stays in `raw["profile"]["managerId"]`);
- clients: `GET /api/v1/apps` (client_id = the OAuth client id, else the app id);
- grants, per user: consents `GET /api/v1/users/{id}/grants` (one per scope, `consent`);
  per app: refresh tokens `GET /api/v1/apps/{id}/tokens` (every user's, `refresh_token`: the
  same records as the per-user, per-client lists at one call per app), the app's own Okta-API
  scope grants `GET /api/v1/apps/{id}/grants` (`application_permission`) and its Cross App
  Access connections `GET /api/v1/apps/{id}/cwo/connections` (ID-JAG, `jwt_bearer`; EA: a 404
  there means the feature is off for the org and lists nothing).
Revoke deletes the listed record (a second revoke's 404 is `already_absent`); revoking a token
*value* is NotSupported (Okta's /oauth2/v1/revoke needs the token's own client). Deactivate
is `POST /api/v1/apps/{id}/lifecycle/deactivate` (reversible in Okta).

Pagination follows `Link: <…>; rel="next"` verbatim, on the same origin only, and stops with an
error when a cursor repeats. Pacing: `X-Rate-Limit-*` against the answer's `Date`
(pacing.py), one bucket per endpoint family; a 429 is a retryable ConnectorError whose
`retry_after` is the window's reset.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterator
from urllib.parse import quote, urlencode, urlsplit

import httpx

from governance.connectors import assertion, pacing, transport
from governance.connectors.base import (
    ALL_CAPABILITIES,
    DEACTIVATE,
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
    RevokeResult,
)

# The least scopes per capability (OKTA-SPEC `security` blocks, idp.md §1.1-1.2).
SCOPES: dict[str, tuple[str, ...]] = {
    LIST_IDENTITIES: ("okta.users.read",),
    LIST_CLIENTS: ("okta.apps.read",),
    LIST_GRANTS: ("okta.users.read", "okta.apps.read", "okta.appGrants.read"),
    REVOKE: ("okta.users.manage", "okta.apps.manage", "okta.appGrants.manage"),
    DEACTIVATE: ("okta.apps.manage",),
}
PAGE_SIZE = 200  # the spec's maximum for every list used here
# An id no Okta object has: deleting or deactivating it is the harmless call verify() makes.
PROBE_ID = "mcpConsoleVerifyProbe"
# Okta's limits are per minute; a 429 whose window we never saw waits one.
DEFAULT_RETRY_AFTER = 60.0
_TOKEN_MARGIN = 60.0  # renew a cached access token this long before it expires
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?')
_RATE_HEADERS = {
    "limit": "x-rate-limit-limit",
    "remaining": "x-rate-limit-remaining",
    "reset": "x-rate-limit-reset",
}


class OktaConnector(Connector):
    """A connection to one Okta org's Management API."""

    kind = "okta"
    capabilities = frozenset(
        {VERIFY, LIST_IDENTITIES, LIST_CLIENTS, LIST_GRANTS, REVOKE, DEACTIVATE}
    )

    def __init__(
        self,
        config,
        secret,
        *,
        mock: httpx.MockTransport | None = None,
        extra_headers: dict[str, str] | None = None,
    ):
        super().__init__(config, secret)
        for key in ("domain", "client_id"):
            if not self.config.get(key):
                raise ConnectorError(f"the config needs {key!r}", call="configure")
        domain = str(self.config["domain"]).removeprefix("https://").strip("/")
        self.base_url = str(self.config.get("base_url") or f"https://{domain}").rstrip("/")
        self.token_url = str(self.config.get("token_url") or f"{self.base_url}/oauth2/v1/token")
        self.client_id = str(self.config["client_id"])
        self.key_id = str(self.config.get("key_id") or "")
        try:
            total = float(self.config.get("timeout_seconds", 20))
        except (TypeError, ValueError):
            raise ConnectorError("timeout_seconds must be a number", call="configure") from None
        self.timeouts = transport.Timeouts(connect=min(5.0, total), read=total, total=total)
        self.pacer = pacing.Pacer()
        self._mock = mock  # tests of odd answers only
        # Tests only: headers added to every API call (Prism's `Prefer: code=...`).
        self._extra_headers = dict(extra_headers or {})
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}

    # --- the interface ----------------------------------------------------------------------

    def verify(self) -> list[Check]:
        return [self._check(capability) for capability in ALL_CAPABILITIES]

    def list_identities(self) -> Iterator[IdpIdentity]:
        for user in self._pages("/api/v1/users", call=LIST_IDENTITIES, bucket="users"):
            profile = user.get("profile") or {}
            name = " ".join(str(profile.get(k) or "") for k in ("firstName", "lastName")).strip()
            yield IdpIdentity(
                idp_id=str(user.get("id", "")),
                subject=str(user.get("id", "")),  # Okta's `sub` for a user is its id
                display_name=str(profile.get("displayName") or name or profile.get("login", "")),
                email=str(profile.get("email") or ""),
                active=user.get("status") == "ACTIVE",
                raw=user,
            )

    def list_clients(self) -> Iterator[IdpClient]:
        for app in self._apps(LIST_CLIENTS):
            oauth_client = (app.get("credentials") or {}).get("oauthClient") or {}
            yield IdpClient(
                idp_id=str(app.get("id", "")),
                client_id=str(oauth_client.get("client_id") or app.get("id", "")),
                name=str(app.get("label") or app.get("name") or ""),
                active=app.get("status") == "ACTIVE",
                raw=app,
            )

    def list_grants(self) -> Iterator[IdpGrant]:
        for user in self._pages("/api/v1/users", call=LIST_GRANTS, bucket="users"):
            path = f"/api/v1/users/{_seg(user.get('id'))}/grants"
            for record in self._pages(path, call=LIST_GRANTS, bucket="user_grants", expand=True):
                yield _consent(record, "consent")
        seen_connections: set[str] = set()
        for app in self._apps(LIST_GRANTS):
            app_path = f"/api/v1/apps/{_seg(app.get('id'))}"
            for record in self._pages(
                f"{app_path}/tokens", call=LIST_GRANTS, bucket="app_tokens", expand=True
            ):
                yield _refresh_token(record)
            for record in self._pages(
                f"{app_path}/grants",
                call=LIST_GRANTS,
                bucket="app_grants",
                expand=True,
                paged=False,
            ):
                yield _consent(record, "application_permission")
            for record in self._connections(app_path):
                if record.get("id") not in seen_connections:  # both ends of one list it
                    seen_connections.add(record.get("id"))
                    yield _connection(record)

    def revoke(self, grant_or_token: IdpGrant | str) -> RevokeResult:
        if not isinstance(grant_or_token, IdpGrant):
            raise self.unsupported(
                REVOKE,
                "Okta revokes a token value only with that token's own client credentials; "
                "revoke the listed grant or refresh token instead",
            )
        url, scope = self._revoke_target(grant_or_token)
        response = self._send("DELETE", url, call=REVOKE, scopes=(scope,), bucket="revoke")
        if response.status in (200, 202, 204):
            return RevokeResult(RevokeResult.REVOKED, grant_or_token.idp_id, url, response.status)
        if response.status in (404, 410):  # E0000007: gone already, success recorded distinctly
            return RevokeResult(
                RevokeResult.ALREADY_ABSENT, grant_or_token.idp_id, url, response.status
            )
        raise self._failure(response, REVOKE, (scope,))

    def deactivate(self, client_id: str) -> None:
        url = f"{self.base_url}/api/v1/apps/{_seg(client_id)}/lifecycle/deactivate"
        response = self._send("POST", url, call=DEACTIVATE, scopes=SCOPES[DEACTIVATE])
        if response.status not in (200, 204):
            raise self._failure(response, DEACTIVATE, SCOPES[DEACTIVATE])

    # --- listing ----------------------------------------------------------------------------

    def _apps(self, call: str) -> Iterator[dict]:
        return self._pages("/api/v1/apps", call=call, bucket="apps")

    def _connections(self, app_path: str) -> Iterator[dict]:
        try:
            yield from self._pages(
                f"{app_path}/cwo/connections", call=LIST_GRANTS, bucket="app_connections"
            )
        except ConnectorError as exc:
            if exc.status != 404:  # 404: Cross App Access (EA) is off for this org or app
                raise

    def _pages(
        self, path: str, *, call: str, bucket: str, expand=False, paged=True
    ) -> Iterator[dict]:
        """Every record of a list, following `Link rel="next"` until it is absent. `paged`:
        the list takes `limit` (an app's Okta-API grants do not, per the spec)."""
        params = {
            **({"limit": PAGE_SIZE} if paged else {}),
            **({"expand": "scope"} if expand else {}),
        }
        url = f"{self.base_url}{path}?{urlencode(params)}"
        seen = {url}
        while url:
            response = self._send("GET", url, call=call, scopes=SCOPES[call], bucket=bucket)
            if response.status != 200:
                raise self._failure(response, call, SCOPES[call])
            body = response.json(call=call)
            if not isinstance(body, list):
                raise ConnectorError(
                    "expected a JSON array", call=call, endpoint=url, error_code="invalid_response"
                )
            yield from (record for record in body if isinstance(record, dict))
            url = self._next_url(response, call)
            if url in seen:  # a server that repeats a cursor would otherwise loop forever
                raise ConnectorError(
                    "the next page repeats a cursor already followed",
                    call=call,
                    endpoint=url,
                    error_code="repeated_cursor",
                )
            seen.add(url)

    def _next_url(self, response: transport.Response, call: str) -> str:
        match = _LINK_NEXT.search(response.headers.get("link", ""))
        if match is None:
            return ""
        url = match.group(1)
        if _origin(url) != _origin(self.base_url):  # the bearer token goes to Okta only
            raise ConnectorError(
                "the next-page link points at another host",
                call=call,
                endpoint=response.endpoint,
                error_code="foreign_link",
            )
        return url

    # --- calls ------------------------------------------------------------------------------

    def _send(
        self, method: str, url: str, *, call: str, scopes: tuple[str, ...], bucket: str = ""
    ) -> transport.Response:
        """One API call with a token for `scopes`, paced; a 401 renews the token once."""
        bucket = bucket or call
        for renewed in (False, True):
            headers = {
                "Authorization": f"Bearer {self._token(scopes, call)}",
                "Accept": "application/json",
                **self._extra_headers,
            }
            self.pacer.before(bucket)
            try:
                response = transport.request(
                    method, url, call=call, headers=headers, timeouts=self.timeouts, mock=self._mock
                )
            except ConnectorError as exc:
                raise self._rate_limited(exc, bucket) from None
            self.pacer.observe(bucket, _window(response.headers))
            if response.status == 429:  # only a mocked transport hands a 429 back
                raise self._rate_limited(self._failure(response, call, scopes), bucket)
            if response.status != 401 or renewed:
                return response
            self._tokens.pop(scopes, None)  # expired or revoked early: one fresh token
        return response

    def _rate_limited(self, exc: ConnectorError, bucket: str) -> ConnectorError:
        """A 429 always says when to come back: the window's reset as the last answer in this
        bucket gave it (the fetcher keeps a 429's own headers), else Retry-After, else a minute."""
        if exc.status != 429:
            return exc
        wait = self.pacer.reset_in(bucket) or exc.retry_after or DEFAULT_RETRY_AFTER
        return ConnectorError(
            f"rate limited by Okta; its window resets in {wait:.0f}s",
            call=exc.call,
            endpoint=exc.endpoint,
            status=429,
            error_code=exc.error_code,
            retry_after=wait,
        )

    def _token(self, scopes: tuple[str, ...], call: str) -> str:
        cached = self._tokens.get(scopes)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        try:
            signed = assertion.client_assertion(
                client_id=self.client_id,
                audience=self.token_url,
                pem=self.secret,
                key_id=self.key_id,
            )
        except assertion.InvalidKey as exc:
            raise ConnectorError(str(exc), call=call, error_code="invalid_key") from None
        form = {
            "grant_type": "client_credentials",
            "scope": " ".join(scopes),
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": signed,
        }
        headers = {"Accept": "application/json"}
        response = transport.request(
            "POST",
            self.token_url,
            call=call,
            headers=headers,
            form=form,
            timeouts=self.timeouts,
            mock=self._mock,
        )
        body = response.json(call=call) if response.status == 200 else None
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise self._token_failure(response, call, scopes)
        lifetime = float(body.get("expires_in") or 3600)
        self._tokens[scopes] = (body["access_token"], time.monotonic() + lifetime - _TOKEN_MARGIN)
        return body["access_token"]

    def _revoke_target(self, grant: IdpGrant) -> tuple[str, str]:
        raw, grant_id = grant.raw or {}, _seg(grant.idp_id)
        if grant.grant_type == "consent":
            user = _seg(raw.get("userId") or grant.subject)
            return f"{self.base_url}/api/v1/users/{user}/grants/{grant_id}", "okta.users.manage"
        if grant.grant_type == "refresh_token":
            user, client = _seg(raw.get("userId") or grant.subject), _seg(grant.client_id)
            path = f"/api/v1/users/{user}/clients/{client}/tokens/{grant_id}"
            return f"{self.base_url}{path}", "okta.users.manage"
        if grant.grant_type == "application_permission":
            app = _seg(raw.get("clientId") or grant.client_id)
            return f"{self.base_url}/api/v1/apps/{app}/grants/{grant_id}", "okta.appGrants.manage"
        if grant.grant_type == "jwt_bearer":
            app = _seg(raw.get("requestingAppInstanceId") or grant.client_id)
            path = f"/api/v1/apps/{app}/cwo/connections/{grant_id}"
            return f"{self.base_url}{path}", "okta.apps.manage"
        raise self.unsupported(REVOKE, f"no Okta record of grant type {grant.grant_type!r}")

    # --- verify, one capability -------------------------------------------------------------

    def _check(self, capability: str) -> Check:
        if capability not in self.capabilities:
            return Check(capability, False, str(self.unsupported(capability)))
        scopes = SCOPES[capability][:1]  # the first scope is the one the probe needs
        probes = {
            LIST_IDENTITIES: ("GET", "/api/v1/users?limit=1"),
            LIST_CLIENTS: ("GET", "/api/v1/apps?limit=1"),
            LIST_GRANTS: ("GET", "/api/v1/users?limit=1"),
            REVOKE: ("DELETE", f"/api/v1/users/{PROBE_ID}/grants/{PROBE_ID}"),
            DEACTIVATE: ("POST", f"/api/v1/apps/{PROBE_ID}/lifecycle/deactivate"),
        }
        method, path = probes[capability]
        try:
            for scope in SCOPES[capability][1:]:  # the others: the token endpoint says
                self._token((scope,), capability)
            response = self._send(method, f"{self.base_url}{path}", call=capability, scopes=scopes)
        except ConnectorError as exc:
            return Check(capability, False, str(exc))
        # An unknown id answers 404 once the scope and role let the call through.
        if response.status in (200, 204) or (response.status == 404 and method != "GET"):
            granted = " ".join(SCOPES[capability])
            return Check(capability, True, f"{method} {path} answered; scopes {granted}")
        return Check(capability, False, str(self._failure(response, capability, scopes)))

    # --- errors -----------------------------------------------------------------------------

    def _failure(self, response: transport.Response, call: str, scopes) -> ConnectorError:
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

    def _token_failure(self, response: transport.Response, call: str, scopes) -> ConnectorError:
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


# --- normalising (idp.md §0) --------------------------------------------------------------------


def _consent(record: dict, grant_type: str) -> IdpGrant:
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


def _refresh_token(record: dict) -> IdpGrant:
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


def _connection(record: dict) -> IdpGrant:
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


def _window(headers: dict[str, str]) -> pacing.Window | None:
    return pacing.window_from_headers(headers, **_RATE_HEADERS)


def _when(value) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _seg(value) -> str:
    return quote(str(value or ""), safe="")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
