"""The okta connector: tokens for a private_key_jwt service app, paced and paginated calls
to the Management API, listing, revoking, deactivating and verifying (see the package
docstring for what each capability calls and needs)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx

from governance.connectors import assertion, pacing, transport
from governance.connectors.base import (
    CUT_OFF_IDENTITY,
    DEACTIVATE,
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
from governance.connectors.okta import answers
from governance.connectors.okta.containment import Containment

# The least scopes per capability (OKTA-SPEC `security` blocks, idp.md §1.1-1.2).
SCOPES: dict[str, tuple[str, ...]] = {
    LIST_IDENTITIES: ("okta.users.read",),
    LIST_CLIENTS: ("okta.apps.read",),
    LIST_GRANTS: ("okta.users.read", "okta.apps.read", "okta.appGrants.read"),
    REVOKE: ("okta.users.manage", "okta.apps.manage", "okta.appGrants.manage"),
    DEACTIVATE: ("okta.apps.manage", "okta.apps.read"),  # read: client_active
    REVOKE_USER_CLIENT: ("okta.users.manage", "okta.users.read"),
    CUT_OFF_IDENTITY: ("okta.users.manage",),
    REVOKE_CLIENT_GRANTS: (
        "okta.apps.manage",
        "okta.apps.read",
        "okta.appGrants.read",
        "okta.appGrants.manage",
    ),
}
PAGE_SIZE = 200  # the spec's maximum for every list used here
# An id no Okta object has: deleting or deactivating it is the harmless call verify() makes.
PROBE_ID = "mcpConsoleVerifyProbe"
# Okta's limits are per minute; a 429 whose window we never saw waits one.
DEFAULT_RETRY_AFTER = 60.0
_TOKEN_MARGIN = 60.0  # renew a cached access token this long before it expires


class OktaConnector(Containment, Connector):
    """A connection to one Okta org's Management API."""

    kind = "okta"
    capabilities = frozenset(
        {VERIFY, LIST_IDENTITIES, LIST_CLIENTS, LIST_GRANTS, REVOKE, DEACTIVATE}
        | {REVOKE_USER_CLIENT, CUT_OFF_IDENTITY, REVOKE_CLIENT_GRANTS}
    )
    restores_client_grants = True  # its Cross App Access connections are set active again

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
        return [self._check(capability) for capability in self.reported_capabilities()]

    def list_identities(self) -> Iterator[IdpIdentity]:
        for user in self._pages("/api/v1/users", call=LIST_IDENTITIES, bucket="users"):
            yield answers.identity(user)

    def list_clients(self) -> Iterator[IdpClient]:
        for app in self._apps(LIST_CLIENTS):
            yield answers.client(app)

    def list_grants(self) -> Iterator[IdpGrant]:
        for user in self._pages("/api/v1/users", call=LIST_GRANTS, bucket="users"):
            path = f"/api/v1/users/{answers.seg(user.get('id'))}/grants"
            for record in self._pages(path, call=LIST_GRANTS, bucket="user_grants", expand=True):
                yield answers.consent(record, "consent")
        seen_connections: set[str] = set()
        for app in self._apps(LIST_GRANTS):
            app_path = f"/api/v1/apps/{answers.seg(app.get('id'))}"
            for record in self._pages(
                f"{app_path}/tokens", call=LIST_GRANTS, bucket="app_tokens", expand=True
            ):
                yield answers.refresh_token(record)
            for record in self._pages(
                f"{app_path}/grants",
                call=LIST_GRANTS,
                bucket="app_grants",
                expand=True,
                paged=False,
            ):
                yield answers.consent(record, "application_permission")
            for record in self._connections(app_path):
                if record.get("id") not in seen_connections:  # both ends of one list it
                    seen_connections.add(record.get("id"))
                    yield answers.connection(record)

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
        raise answers.failure(response, REVOKE, (scope,))

    def deactivate(self, client_id: str) -> None:
        if not client_id:
            raise ConnectorError("no app id to deactivate", call=DEACTIVATE, error_code="no_app")
        url = f"{self.base_url}/api/v1/apps/{answers.seg(client_id)}/lifecycle/deactivate"
        response = self._send("POST", url, call=DEACTIVATE, scopes=SCOPES[DEACTIVATE])
        if response.status not in (200, 204):
            raise answers.failure(response, DEACTIVATE, SCOPES[DEACTIVATE])

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
        self, path: str, *, call: str, bucket: str, expand=False, paged=True, scopes=None
    ) -> Iterator[dict]:
        """Every record of a list, following `Link rel="next"` until it is absent. `paged`:
        the list takes `limit` (an app's Okta-API grants do not, per the spec); `scopes`: the
        token's (default the call's)."""
        scopes = scopes or SCOPES[call]
        params = {
            **({"limit": PAGE_SIZE} if paged else {}),
            **({"expand": "scope"} if expand else {}),
        }
        url = f"{self.base_url}{path}?{urlencode(params)}"
        seen = {url}
        while url:
            response = self._send("GET", url, call=call, scopes=scopes, bucket=bucket)
            if response.status != 200:
                raise answers.failure(response, call, scopes)
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
        url = answers.next_link(response.headers)
        if url and answers.origin(url) != answers.origin(self.base_url):
            # The bearer token goes to Okta only.
            raise ConnectorError(
                "the next-page link points at another host",
                call=call,
                endpoint=response.endpoint,
                error_code="foreign_link",
            )
        return url

    # --- calls ------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        call: str,
        scopes: tuple[str, ...],
        bucket: str = "",
        json: dict | None = None,
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
                    method,
                    url,
                    call=call,
                    headers=headers,
                    json=json,
                    timeouts=self.timeouts,
                    mock=self._mock,
                )
            except ConnectorError as exc:
                raise self._rate_limited(exc, bucket) from None
            self.pacer.observe(bucket, answers.window(response.headers))
            if response.status == 429:  # only a mocked transport hands a 429 back
                raise self._rate_limited(answers.failure(response, call, scopes), bucket)
            if response.status != 401 or renewed:
                return response
            self._tokens.pop(scopes, None)  # expired or revoked early: one fresh token
        return response

    def _rate_limited(self, exc: ConnectorError, bucket: str) -> ConnectorError:
        """A 429 always says when to come back: its own Retry-After or X-Rate-Limit-Reset
        (the transport reads them), else the window's reset as the last answer in this bucket
        gave it, else a minute."""
        if exc.status != 429:
            return exc
        wait = exc.retry_after or self.pacer.reset_in(bucket) or DEFAULT_RETRY_AFTER
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
        try:
            response = transport.request(
                "POST",
                self.token_url,
                call=call,
                headers=headers,
                form=form,
                timeouts=self.timeouts,
                mock=self._mock,
            )
        except ConnectorError as exc:
            raise self._rate_limited(exc, "token") from None
        if response.status == 429:  # only a mocked transport hands a 429 back
            raise self._rate_limited(answers.token_failure(response, call, scopes), "token")
        body = response.json(call=call) if response.status == 200 else None
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise answers.token_failure(response, call, scopes)
        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0  # Okta's default for service-app tokens
        self._tokens[scopes] = (body["access_token"], time.monotonic() + lifetime - _TOKEN_MARGIN)
        return body["access_token"]

    def _revoke_target(self, grant: IdpGrant) -> tuple[str, str]:
        """The listed record's own path and the scope deleting it needs."""
        raw, kind = grant.raw or {}, grant.grant_type
        user = raw.get("userId") or grant.subject
        if kind == "consent":
            parts, scope = ("users", user, "grants", grant.idp_id), "okta.users.manage"
        elif kind == "refresh_token":
            parts = ("users", user, "clients", grant.client_id, "tokens", grant.idp_id)
            scope = "okta.users.manage"
        elif kind == "application_permission":
            app = raw.get("clientId") or grant.client_id
            parts, scope = ("apps", app, "grants", grant.idp_id), "okta.appGrants.manage"
        elif kind == "jwt_bearer":
            app = raw.get("requestingAppInstanceId") or grant.client_id
            parts, scope = ("apps", app, "cwo", "connections", grant.idp_id), "okta.apps.manage"
        else:
            raise self.unsupported(REVOKE, f"no Okta record of grant type {kind!r}")
        if not all(parts):
            # An empty segment would make DELETE .../grants/{id} the bulk "revoke them all".
            raise ConnectorError(
                f"the {kind} lacks an id its Okta path needs",
                call=REVOKE,
                error_code="incomplete_grant",
            )
        path = "/".join(answers.seg(part) for part in parts)
        return f"{self.base_url}/api/v1/{path}", scope

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
            REVOKE_USER_CLIENT: ("DELETE", f"/api/v1/users/{PROBE_ID}/clients/{PROBE_ID}/grants"),
            CUT_OFF_IDENTITY: (
                "DELETE",
                f"/api/v1/users/{PROBE_ID}/sessions?oauthTokens=true&forgetDevices=false",
            ),
            REVOKE_CLIENT_GRANTS: ("DELETE", f"/api/v1/apps/{PROBE_ID}/tokens"),
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
        return Check(capability, False, str(answers.failure(response, capability, scopes)))
