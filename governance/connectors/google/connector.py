"""The google connector: tokens for a domain-wide-delegated service account, paced Directory
API calls, listing, revoking, containment and verifying (see the package docstring)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import httpx
import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from governance.connectors import transport
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
    IdpGrant,
    IdpIdentity,
    RevokeResult,
    confirm_absent,
)
from governance.connectors.google import answers

SCOPE_USERS = "https://www.googleapis.com/auth/admin.directory.user.readonly"
SCOPE_TOKENS = "https://www.googleapis.com/auth/admin.directory.user.security"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DIRECTORY = "admin/directory/v1"
PROBE_CLIENT = "mcp-console-verify-probe.apps.googleusercontent.com"  # no app has this id
PROBE_USER = "mcp-console-verify-probe"  # no user has this key: signing it out is harmless
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
    REVOKE_CLIENT_GRANTS: (
        "the Directory API lists an app's tokens only per user; revoke them user by user "
        "(revoke_user_client), or block the app under API controls in the Admin console"
    ),
}


class GoogleConnector(Connector):
    """A connection to one Google Workspace domain's Directory API."""

    why_not = _WHY_NOT

    kind = "google"
    capabilities = frozenset(
        {VERIFY, LIST_IDENTITIES, LIST_GRANTS, REVOKE, REVOKE_USER_CLIENT, CUT_OFF_IDENTITY}
    )

    def __init__(self, config, secret, *, mock: httpx.MockTransport | None = None):
        super().__init__(config, secret)
        if not self.config.get("admin_email"):
            raise ConnectorError("the config needs 'admin_email'", call="configure")
        self.admin_email = self.config["admin_email"]
        self.customer = self.config.get("customer") or "my_customer"
        self._key = answers.service_account(secret)
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
                    yield answers.grant(token, user_key)

    def grants_for(self, subject: str, client_id: str) -> list[IdpGrant]:
        """The user's token grant to the app (`tokens.get`); none on a 404 (no such grant, or
        no such user)."""
        response = self._call(
            "GET", self._token_path(subject, client_id), REVOKE_USER_CLIENT, SCOPE_TOKENS
        )
        if response.status == 404:
            return []
        if response.status != 200:
            raise answers.failure(response, REVOKE_USER_CLIENT, SCOPE_TOKENS)
        token = response.json(call=REVOKE_USER_CLIENT)
        return [answers.grant(token, subject)] if isinstance(token, dict) else []

    def revoke_user_client(self, subject: str, client_id: str) -> list[RevokeResult]:
        """`tokens.delete`: every token the user gave the app; a second time 404, confirmed
        by `tokens.get`."""
        grant = IdpGrant(idp_id="", subject=subject, client_id=client_id)
        result = self._delete_token(grant, REVOKE_USER_CLIENT)
        return confirm_absent(
            [result],
            lambda: {f"{subject}/{client_id}"} if self.grants_for(subject, client_id) else set(),
            call=REVOKE_USER_CLIENT,
        )

    def cut_off_identity(self, subject: str) -> list[RevokeResult]:
        """`users.signOut` (web and device sessions; OAuth tokens survive it), then
        `tokens.delete` for every app the user authorised."""
        call = CUT_OFF_IDENTITY
        if not subject:
            raise ConnectorError("no user key", call=call, error_code="no_user")
        user = quote(subject, safe="")
        response = self._call("POST", f"users/{user}/signOut", call, SCOPE_TOKENS)
        target = f"{subject}/sessions"
        if response.status in (200, 204):
            results = [
                RevokeResult(RevokeResult.REVOKED, target, response.endpoint, response.status)
            ]
        elif response.status == 404:  # no such user: confirmed below
            results = [RevokeResult(RevokeResult.ALREADY_ABSENT, target, response.endpoint, 404)]
        else:
            raise answers.failure(response, call, SCOPE_TOKENS)
        for token in self._tokens_of(subject, call):
            grant = IdpGrant(idp_id="", subject=subject, client_id=str(token.get("clientId", "")))
            results.append(self._delete_token(grant, call))

        def still_listed() -> set[str]:
            response = self._call("GET", f"users/{user}/tokens", call, SCOPE_TOKENS)
            left = {f"{subject}/{t.get('clientId')}" for t in self._tokens_of(subject, call)}
            return left | ({target} if response.status == 200 else set())

        return confirm_absent(results, still_listed, call=call)

    def revoke(self, grant_or_token: IdpGrant | str) -> RevokeResult:
        if not isinstance(grant_or_token, IdpGrant):
            raise self.unsupported(
                REVOKE,
                "the Directory API revokes a user's grant to an app, not a token value; "
                "revoke the listed grant instead",
            )
        return self._delete_token(grant_or_token, REVOKE)

    def _delete_token(self, grant: IdpGrant, call: str) -> RevokeResult:
        if not (grant.subject and grant.client_id):
            raise self.unsupported(call, "a Google grant is revoked by its user and client id")
        response = self._call(
            "DELETE", self._token_path(grant.subject, grant.client_id), call, SCOPE_TOKENS
        )
        target = f"{grant.subject}/{grant.client_id}"
        if response.status in (200, 204):
            return RevokeResult(RevokeResult.REVOKED, target, response.endpoint, response.status)
        if response.status == 404:  # gone already: success, recorded distinctly
            return RevokeResult(
                RevokeResult.ALREADY_ABSENT, target, response.endpoint, response.status
            )
        raise answers.failure(response, call, SCOPE_TOKENS)

    def _token_path(self, subject: str, client_id: str) -> str:
        if not (subject and client_id):  # .../tokens/ would be another call
            raise ConnectorError(
                "a user key and a client id are both needed",
                call=REVOKE_USER_CLIENT,
                error_code="incomplete_grant",
            )
        return f"users/{quote(subject, safe='')}/tokens/{quote(client_id, safe='')}"

    def _tokens_of(self, subject: str, call: str) -> list[dict]:
        """Every app token the user issued (`tokens.list`); none for an unknown user."""
        response = self._call("GET", f"users/{quote(subject, safe='')}/tokens", call, SCOPE_TOKENS)
        if response.status == 404:
            return []
        if response.status != 200:
            raise answers.failure(response, call, SCOPE_TOKENS)
        body = response.json(call=call)
        items = body.get("items", []) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ConnectorError.unexpected_shape("items", call=call, endpoint=self.directory_url)
        return [item for item in items if isinstance(item, dict)]

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
            raise answers.failure(response, call, scope)
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
            raise answers.failure(response, call, scope, token=True)
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
        signing_input = (
            f"{answers.b64(orjson.dumps(header))}.{answers.b64(orjson.dumps(claims))}".encode()
        )
        signature = self._key["signer"].sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{answers.b64(signature)}"

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
        if capability == REVOKE_USER_CLIENT:
            self.grants_for(self.admin_email, PROBE_CLIENT)
            return f"tokens.get answered ({SCOPE_TOKENS})"
        if capability == CUT_OFF_IDENTITY:  # a user key no user has: 404 once the scope passes
            response = self._call("POST", f"users/{PROBE_USER}/signOut", capability, SCOPE_TOKENS)
            if response.status not in (204, 404):
                raise answers.failure(response, capability, SCOPE_TOKENS)
            return f"users.signOut answered HTTP {response.status} ({SCOPE_TOKENS})"
        # Deleting the admin's tokens for an app that does not exist is harmless.
        result = self.revoke(IdpGrant(idp_id="", subject=self.admin_email, client_id=PROBE_CLIENT))
        return f"tokens.delete answered HTTP {result.status} ({SCOPE_TOKENS})"
