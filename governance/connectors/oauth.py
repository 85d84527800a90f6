"""The `oauth` kind: any OAuth 2.0 / OIDC authorization server, by the standards alone.

- Discovery from the issuer: OIDC (`/.well-known/openid-configuration`), then RFC 8414
  (`/.well-known/oauth-authorization-server`, path inserted); the answer's `issuer` must match.
- RFC 7662 introspection and RFC 7009 revocation, authenticated as the console's own client:
  client_secret_basic, or client_secret_post when the AS advertises only that for the endpoint.
- Listing grants has no standard: only when the config names a `grants_url` (an admin route
  answering GET with `{"grants": [...], "next": <optional URL of the next page>}` and DELETE
  `<grants_url>/<id>`; our test peer has one).
  Identities, clients and deactivation are NotSupported.

Config: `issuer` (required), `client_id` (required), `grants_url`, `timeout_seconds`.
The secret is the client's secret.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from urllib.parse import quote, quote_plus, urljoin, urlsplit

import httpx

from governance.connectors import transport
from governance.connectors.base import (
    ALL_CAPABILITIES,
    INTROSPECT,
    LIST_GRANTS,
    REVOKE,
    VERIFY,
    Check,
    Connector,
    ConnectorError,
    IdpGrant,
    NotSupported,
    RevokeResult,
    TokenStatus,
)

# A token no AS issued: introspecting or revoking it is the harmless call `verify()` makes.
PROBE_TOKEN = "mcp-console-verify-probe"
_ENDPOINTS = {INTROSPECT: "introspection_endpoint", REVOKE: "revocation_endpoint"}


class OAuthConnector(Connector):
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
        try:
            total = float(self.config.get("timeout_seconds", 20))
        except (TypeError, ValueError):
            raise ConnectorError("timeout_seconds must be a number", call="configure") from None
        self.timeouts = transport.Timeouts(connect=min(5.0, total), read=total, total=total)
        self._mock = mock  # tests of odd server answers only
        self._metadata: dict | None = None
        caps = {VERIFY, INTROSPECT, REVOKE} | ({LIST_GRANTS} if self.grants_url else set())
        self.capabilities = frozenset(caps)

    def unsupported(self, capability: str, why: str = "") -> NotSupported:
        if capability == LIST_GRANTS and not why:
            why = (
                "OAuth 2.0 has no standard way to list grants; set grants_url in the config "
                "if this AS has an admin route that lists them"
            )
        return super().unsupported(capability, why)

    # --- the interface ----------------------------------------------------------------------

    def verify(self) -> list[Check]:
        try:
            metadata = self.metadata()
        except ConnectorError as exc:
            return [Check("discovery", False, str(exc))] + [
                Check(cap, False, "not checked: discovery failed") for cap in ALL_CAPABILITIES
            ]
        checks = [Check("discovery", True, f"metadata for {metadata['issuer']}")]
        for capability in ALL_CAPABILITIES:
            checks.append(self._check(capability))
        return checks

    def list_grants(self) -> Iterator[IdpGrant]:
        if not self.grants_url:
            raise self.unsupported(LIST_GRANTS)
        return self._grant_pages()

    def _grant_pages(self) -> Iterator[IdpGrant]:
        """Page by page: each answer's optional `next` (a URL, absolute or relative to the
        grants_url) names the next page; a `next` already followed is an error, not a loop."""
        url, followed = self.grants_url, set()
        while url:
            response = self._call("GET", url, call=LIST_GRANTS)
            if response.status != 200:
                raise _failure(response, LIST_GRANTS)
            body = response.json(call=LIST_GRANTS)
            if not isinstance(body, dict) or not isinstance(body.get("grants"), list):
                raise ConnectorError(
                    'expected {"grants": [...]}',
                    call=LIST_GRANTS,
                    endpoint=url,
                    status=response.status,
                    error_code="invalid_response",
                )
            yield from (self._grant(item) for item in body["grants"] if isinstance(item, dict))
            followed.add(url)
            url = urljoin(self.grants_url, str(body["next"])) if body.get("next") else ""
            if url in followed:
                raise ConnectorError(
                    "the page repeats a cursor already followed (stopped, not looping)",
                    call=LIST_GRANTS,
                    endpoint=url,
                    status=response.status,
                    error_code="repeated_cursor",
                )

    def revoke(self, grant_or_token: IdpGrant | str) -> RevokeResult:
        if isinstance(grant_or_token, IdpGrant):
            return self._delete_grant(grant_or_token)
        endpoint = self._endpoint(REVOKE)
        response = self._post(endpoint, REVOKE, {"token": grant_or_token})
        # RFC 7009 §2.2: 200 whether or not the token was valid, so "already revoked" is 200
        # (some servers answer 204).
        if response.status not in (200, 204):
            raise _failure(response, REVOKE)
        return RevokeResult(
            RevokeResult.REVOKED, _redact(grant_or_token), endpoint, response.status
        )

    def introspect(self, token: str) -> TokenStatus:
        response = self._post(self._endpoint(INTROSPECT), INTROSPECT, {"token": token})
        if response.status != 200:
            raise _failure(response, INTROSPECT)
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
            expires=_when(body.get("exp")),
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
        for url in _discovery_urls(self.issuer):
            response = self._call("GET", url, call="discovery", auth=False)
            if response.status != 200:
                failures.append(_failure(response, "discovery"))
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

    def _call(self, method, url, *, call, form=None, auth=True) -> transport.Response:
        headers = {"Authorization": self._basic()} if auth else {}
        return transport.request(
            method,
            url,
            call=call,
            headers=headers,
            form=form,
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

    def _delete_grant(self, grant: IdpGrant) -> RevokeResult:
        if not self.grants_url:
            raise self.unsupported(REVOKE, "revoking a listed grant needs grants_url in the config")
        url = f"{self.grants_url}/{quote(grant.idp_id, safe='')}"
        response = self._call("DELETE", url, call=REVOKE)
        if response.status in (200, 202, 204):
            return RevokeResult(RevokeResult.REVOKED, grant.idp_id, url, response.status)
        if response.status in (404, 410):  # gone already: success, recorded distinctly
            return RevokeResult(RevokeResult.ALREADY_ABSENT, grant.idp_id, url, response.status)
        raise _failure(response, REVOKE)

    def _grant(self, item: dict) -> IdpGrant:
        return IdpGrant(
            idp_id=str(item.get("id", "")),
            subject=str(item.get("subject", "")),
            client_id=str(item.get("client_id", "")),
            scopes=tuple(str(item.get("scope", "")).split()),
            created=_when(item.get("created_at")),
            expires=_when(item.get("expires_at")),
            grant_type=str(item.get("grant_type", "")),
            raw=item,
        )

    # --- verify, one capability -------------------------------------------------------------

    def _check(self, capability: str) -> Check:
        if capability not in self.capabilities:
            return Check(capability, False, str(self.unsupported(capability)))
        try:
            if capability == LIST_GRANTS:
                count = sum(1 for _ in self.list_grants())
                return Check(capability, True, f"{self.grants_url} listed {count} grants")
            if capability == INTROSPECT:
                self.introspect(PROBE_TOKEN)
            else:
                self.revoke(PROBE_TOKEN)  # RFC 7009: an unknown token is a harmless 200
        except ConnectorError as exc:
            return Check(capability, False, str(exc))
        return Check(capability, True, f"{self.metadata()[_ENDPOINTS[capability]]} answered")


def _discovery_urls(issuer: str) -> list[str]:
    parts = urlsplit(issuer)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    return [
        f"{issuer}/.well-known/openid-configuration",
        f"{origin}/.well-known/oauth-authorization-server{path}",  # RFC 8414 §3.1
    ]


def _failure(response: transport.Response, call: str) -> ConnectorError:
    """A ConnectorError from an unexpected status, with the IdP's error code and a hint."""
    code, description = "", ""
    try:
        body = response.json(call=call)
        if isinstance(body, dict):
            code = str(body.get("error", ""))[:80]
            description = str(body.get("error_description", ""))[:200]
    except ConnectorError:
        pass
    hint = _HINTS.get(response.status, "unexpected answer")
    message = f"{hint}{': ' + description if description else ''}"
    return ConnectorError(
        message,
        call=call,
        endpoint=response.endpoint,
        status=response.status,
        error_code=code,
        retry_after=transport.retry_after(response),
    )


_HINTS = {
    400: "the AS refused the request",
    401: "the AS rejected the console's client credentials (check client_id and the secret)",
    403: "the console's client lacks permission for this call",
    404: "no such endpoint at the AS",
    429: "rate limited by the AS",
    500: "the AS failed (server error)",
    502: "the AS is unreachable behind its gateway",
    503: "the AS is unavailable",
}


def _redact(token: str) -> str:
    return f"{token[:6]}…" if len(token) > 10 else "…"


def _when(value) -> datetime.datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
