"""The oauth connector: discovery, RFC 7662 introspection and RFC 7009 revocation as the
console's own client, and the optional admin routes (admin.py) for grants and clients (see the
package docstring for the config and what each capability calls)."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import httpx

from governance.connectors import transport
from governance.connectors.base import (
    CUT_OFF_IDENTITY,
    DEACTIVATE,
    INTROSPECT,
    LIST_GRANTS,
    REVOKE,
    REVOKE_CLIENT_GRANTS,
    REVOKE_USER_CLIENT,
    VERIFY,
    Check,
    Connector,
    ConnectorError,
    IdpGrant,
    NotSupported,
    RevokeResult,
    TokenStatus,
)
from governance.connectors.oauth import answers
from governance.connectors.oauth.admin import AdminRoutes

# A token no AS issued: introspecting or revoking it is the harmless call `verify()` makes.
PROBE_TOKEN = "mcp-console-verify-probe"
_ENDPOINTS = {INTROSPECT: "introspection_endpoint", REVOKE: "revocation_endpoint"}


# What each admin route adds (the package docstring gives their convention).
_WITH_GRANTS_URL = frozenset(
    {LIST_GRANTS, REVOKE_USER_CLIENT, CUT_OFF_IDENTITY, REVOKE_CLIENT_GRANTS}
)
_WITH_CLIENTS_URL = frozenset({DEACTIVATE})
# A subject and a client no AS has: listing their grants is the harmless containment probe.
PROBE_ID = "mcp-console-verify-probe"


class OAuthConnector(AdminRoutes, Connector):
    """A connection to one standards OAuth 2.0 / OIDC authorization server."""

    kind = "oauth"

    def __init__(self, config, secret, *, mock: httpx.MockTransport | None = None):
        super().__init__(config, secret)
        for key in ("issuer", "client_id"):
            if not self.config.get(key):
                raise ConnectorError(f"the config needs {key!r}", call="configure")
        self.issuer = self.config["issuer"].rstrip("/")
        self.client_id = self.config["client_id"]
        self.grants_url = (self.config.get("grants_url") or "").rstrip("/")
        self.clients_url = (self.config.get("clients_url") or "").rstrip("/")
        try:
            total = float(self.config.get("timeout_seconds", 20))
        except (TypeError, ValueError):
            raise ConnectorError("timeout_seconds must be a number", call="configure") from None
        self.timeouts = transport.Timeouts(connect=min(5.0, total), read=total, total=total)
        self._mock = mock  # tests of odd server answers only
        self._metadata: dict | None = None
        self.capabilities = frozenset(
            {VERIFY, INTROSPECT, REVOKE}
            | (_WITH_GRANTS_URL if self.grants_url else set())
            | (_WITH_CLIENTS_URL if self.clients_url else set())
        )

    def unsupported(self, capability: str, why: str = "") -> NotSupported:
        if capability in _WITH_GRANTS_URL and not why:
            why = (
                "OAuth 2.0 has no standard way to list grants; set grants_url in the config "
                "if this AS has an admin route that lists them"
            )
        elif capability == DEACTIVATE and not why:
            why = (
                "OAuth 2.0 has no standard way to disable a client; set clients_url in the "
                "config if this AS has an admin route for it"
            )
        return super().unsupported(capability, why)

    # --- the interface ----------------------------------------------------------------------

    def verify(self) -> list[Check]:
        try:
            metadata = self.metadata()
        except ConnectorError as exc:
            return [Check("discovery", False, str(exc))] + [
                Check(cap, False, "not checked: discovery failed")
                for cap in self.reported_capabilities()
            ]
        checks = [Check("discovery", True, f"metadata for {metadata['issuer']}")]
        for capability in self.reported_capabilities():
            checks.append(self._check(capability))
        return checks

    def revoke(self, grant_or_token: IdpGrant | str) -> RevokeResult:
        if isinstance(grant_or_token, IdpGrant):
            return self._delete_grant(grant_or_token)
        endpoint = self._endpoint(REVOKE)
        response = self._post(endpoint, REVOKE, {"token": grant_or_token})
        # RFC 7009 §2.2: 200 whether or not the token was valid, so "already revoked" is 200
        # (some servers answer 204).
        if response.status not in (200, 204):
            raise answers.failure(response, REVOKE)
        return RevokeResult(
            RevokeResult.REVOKED, answers.redact(grant_or_token), endpoint, response.status
        )

    def introspect(self, token: str) -> TokenStatus:
        response = self._post(self._endpoint(INTROSPECT), INTROSPECT, {"token": token})
        if response.status != 200:
            raise answers.failure(response, INTROSPECT)
        body = response.json(call=INTROSPECT)
        if not isinstance(body, dict) or not isinstance(body.get("active"), bool):
            raise ConnectorError(
                'the answer has no boolean "active" (RFC 7662 §2.2)',
                call=INTROSPECT,
                endpoint=response.endpoint,
                status=response.status,
                error_code="invalid_response",
            )
        return TokenStatus(
            active=body["active"],
            client_id=str(body.get("client_id", "")),
            subject=str(body.get("sub") or body.get("username") or ""),
            scopes=tuple(str(body.get("scope", "")).split()),
            expires=answers.when(body.get("exp")),
            raw=body,
        )

    # --- discovery --------------------------------------------------------------------------

    def metadata(self) -> dict:
        """The AS's metadata, fetched once per connector (OIDC discovery, then RFC 8414)."""
        if self._metadata is None:
            self._metadata = self._discover()
        return self._metadata

    def _discover(self) -> dict:
        failures = []
        for url in answers.discovery_urls(self.issuer):
            response = self._call("GET", url, call="discovery", auth=False)
            if response.status != 200:
                failures.append(answers.failure(response, "discovery"))
                continue
            metadata = response.json(call="discovery")
            if not isinstance(metadata, dict):
                raise ConnectorError(
                    "the metadata is not a JSON object", call="discovery", endpoint=url
                )
            if str(metadata.get("issuer", "")).rstrip("/") != self.issuer:
                # RFC 8414 §3.3: metadata naming another issuer must not be used.
                raise ConnectorError(
                    f"the metadata names issuer {metadata.get('issuer')!r}, "
                    f"not the configured {self.issuer!r}",
                    call="discovery",
                    endpoint=url,
                    status=response.status,
                    error_code="issuer_mismatch",
                )
            return metadata
        # A 404 on the first form says little; any other failure is the more useful one.
        raise next((f for f in failures if f.status != 404), failures[-1])

    def _endpoint(self, capability: str) -> str:
        key = _ENDPOINTS[capability]
        url = self.metadata().get(key)
        if not isinstance(url, str) or not url:
            raise NotSupported(
                self.kind,
                capability,
                f"the AS at {self.issuer} advertises no {key} in its metadata",
            )
        return url

    # --- calls ------------------------------------------------------------------------------

    def _post(self, endpoint: str, call: str, form: dict[str, str]) -> transport.Response:
        method = self._auth_method(call)
        if method == "client_secret_post":
            form = {**form, "client_id": self.client_id, "client_secret": self.secret}
        return self._call(
            "POST", endpoint, call=call, form=form, auth=method != "client_secret_post"
        )

    def _call(self, method, url, *, call, form=None, json=None, auth=True) -> transport.Response:
        headers = {"Authorization": self._basic()} if auth else {}
        return transport.request(
            method,
            url,
            call=call,
            headers=headers,
            form=form,
            json=json,
            timeouts=self.timeouts,
            mock=self._mock,
        )

    def _basic(self) -> str:
        # RFC 6749 §2.3.1: each part form-urlencoded before base64 (a ':' in a secret survives).
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self.secret)}"
        return "Basic " + base64.b64encode(pair.encode()).decode("ascii")

    def _auth_method(self, call: str) -> str:
        """client_secret_basic unless the AS advertises only client_secret_post here."""
        metadata = self.metadata()
        offered = metadata.get(
            f"{_ENDPOINTS[call].removesuffix('_endpoint')}_endpoint_auth_methods_supported"
        )
        if not isinstance(offered, list):
            offered = metadata.get("token_endpoint_auth_methods_supported")
        if not isinstance(offered, list):  # RFC 8414 §2: the default is client_secret_basic
            offered = ["client_secret_basic"]
        if "client_secret_basic" in offered:
            return "client_secret_basic"
        if "client_secret_post" in offered:
            return "client_secret_post"
        raise ConnectorError(
            f"the AS offers {offered!r} for this endpoint; the oauth connector needs "
            "client_secret_basic or client_secret_post",
            call=call,
            endpoint=metadata.get(_ENDPOINTS[call], ""),
            error_code="unsupported_client_auth",
        )

    # --- verify, one capability -------------------------------------------------------------

    def _check(self, capability: str) -> Check:
        if capability not in self.capabilities:
            return Check(capability, False, str(self.unsupported(capability)))
        try:
            if capability == LIST_GRANTS:
                count = sum(1 for _ in self.list_grants())
                return Check(capability, True, f"{self.grants_url} listed {count} grants")
            if capability in _WITH_GRANTS_URL:  # the listing each containment call starts with
                where = {"subject": PROBE_ID, "client_id": PROBE_ID}
                if capability == CUT_OFF_IDENTITY:
                    where.pop("client_id")
                elif capability == REVOKE_CLIENT_GRANTS:
                    where.pop("subject")
                self._grants_where(capability, **where)
                return Check(capability, True, f"{self.grants_url} answered the filtered list")
            if capability == DEACTIVATE:
                return Check(capability, True, self._probe_clients_url())
            if capability == INTROSPECT:
                self.introspect(PROBE_TOKEN)
            else:
                self.revoke(PROBE_TOKEN)  # RFC 7009: an unknown token is a harmless 200
        except ConnectorError as exc:
            return Check(capability, False, str(exc))
        return Check(capability, True, f"{self.metadata()[_ENDPOINTS[capability]]} answered")

    def _probe_clients_url(self) -> str:
        """Reading a client no AS has: the route answers 404 once it lets the console in."""
        try:
            self.client_active(PROBE_ID)
        except ConnectorError as exc:
            if exc.status != 404:
                raise
        return f"{self.clients_url} answered"
