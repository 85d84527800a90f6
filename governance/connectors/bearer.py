"""Admin-API calls with a client-credentials bearer token, shared by the vendor kinds that
authenticate that way (`entra`, `keycloak`): the token (fetched on first use, again before it
expires or once after a 401), one call, the vendor's error body turned into a ConnectorError,
and a guard against pages that repeat a cursor.

Nothing here is vendor-specific beyond the error-body shapes it reads (OAuth's
`{"error", "error_description"}`, Graph's `{"error": {"code", "message"}}`, Keycloak's
`{"errorMessage"}`); what a status means for a call is the connector's to say.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from governance.connectors import transport
from governance.connectors.base import ConnectorError

# A 429 without Retry-After still means "later": Graph says to back off exponentially then,
# so a caller gets a first wait rather than a non-retryable error.
DEFAULT_RATE_LIMIT_WAIT = 5.0
# Fetch a new token this long before the old one expires (clock skew, slow calls).
_EXPIRY_MARGIN = 60.0


class BearerSession:
    """One connector's access token from a client-credentials grant, and calls made with it."""

    def __init__(
        self,
        *,
        token_url: str,
        form: dict[str, str],
        timeouts: transport.Timeouts,
        signed: Callable[[], dict[str, str]] | None = None,
        mock: httpx.MockTransport | None = None,
    ):
        """`form` is sent with every token request; `signed` gives fields made afresh for each
        one (a client assertion is single-use: its own jti and a short life)."""
        self.token_url = token_url
        self._form = {"grant_type": "client_credentials", **form}
        self._signed = signed
        self.timeouts = timeouts
        self._mock = mock
        self._token = ""
        self._expires_at = 0.0

    def __repr__(self) -> str:  # never the secret nor the token
        return f"<BearerSession {self.token_url}>"

    def token(self, *, call: str) -> str:
        """A valid access token; ConnectorError naming `call` (the operation that needed it)."""
        if self._token and time.monotonic() < self._expires_at:
            return self._token
        form = {**self._form, **(self._signed() if self._signed else {})}
        response = self._request("POST", self.token_url, call=call, form=form)
        if response.status != 200:
            raise failure(response, call, _TOKEN_HINTS)
        body = response.json(call=call)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ConnectorError(
                "the token answer has no access_token",
                call=call,
                endpoint=self.token_url,
                status=response.status,
                error_code="invalid_response",
            )
        lifetime = body.get("expires_in")
        lifetime = float(lifetime) if isinstance(lifetime, int | float) else 300.0
        self._token = body["access_token"]
        self._expires_at = time.monotonic() + max(lifetime - _EXPIRY_MARGIN, 1.0)
        return self._token

    def claims(self, *, call: str) -> dict[str, Any]:
        """The access token's claims, read without checking the signature: the token came
        straight from the token endpoint, and only says which roles the console holds."""
        parts = self.token(call=call).split(".")
        if len(parts) != 3:
            return {}
        try:
            payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
            claims = orjson.loads(payload)
        except ValueError:
            return {}
        return claims if isinstance(claims, dict) else {}

    def call(
        self, method: str, url: str, *, call: str, json: dict | None = None
    ) -> transport.Response:
        """One authenticated request; after a 401 the token is fetched again and the call
        retried once (a token revoked or rotated at the IdP mid-sync)."""
        for attempt in (1, 2):
            headers = {
                "Authorization": f"Bearer {self.token(call=call)}",
                "Accept": "application/json",
            }
            response = self._request(method, url, call=call, headers=headers, json=json)
            if response.status != 401 or attempt == 2:
                return response
            self._token = ""
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(self, method, url, *, call, headers=None, form=None, json=None):
        try:
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
        except ConnectorError as exc:
            if exc.error_code != "rate_limited" or exc.retry_after is not None:
                raise
            raise ConnectorError(
                exc.message,
                call=exc.call,
                endpoint=exc.endpoint,
                status=exc.status,
                error_code=exc.error_code,
                retry_after=DEFAULT_RATE_LIMIT_WAIT,
            ) from None


class CursorGuard:
    """Remembers the pages of one listing: a page asked for twice is an IdP bug that would
    loop forever, so it ends the listing with an error instead."""

    def __init__(self, call: str):
        self.call = call
        self._seen: set[str] = set()

    def check(self, cursor: str, *, endpoint: str = "") -> None:
        if cursor in self._seen:
            raise ConnectorError(
                f"the IdP sent a page cursor it had already sent ({cursor[:120]!r}): "
                "stopped instead of looping",
                call=self.call,
                endpoint=endpoint or cursor,
                error_code="repeated_cursor",
            )
        self._seen.add(cursor)


def failure(
    response: transport.Response, call: str, hints: dict[int, str], *, extra: str = ""
) -> ConnectorError:
    """A ConnectorError for an unexpected status: the IdP's error code and message, a hint for
    the status (e.g. the missing permission), and Retry-After when the IdP gave one."""
    code, description = error_of(response)
    hint = hints.get(response.status) or _DEFAULT_HINTS.get(response.status, "unexpected answer")
    message = hint + (f" ({extra})" if extra else "") + (f": {description}" if description else "")
    retry_after = transport.retry_after(response)
    if response.status == 429 and retry_after is None:
        retry_after = DEFAULT_RATE_LIMIT_WAIT
    return ConnectorError(
        message,
        call=call,
        endpoint=response.endpoint,
        status=response.status,
        error_code=code,
        retry_after=retry_after,
    )


def error_of(response: transport.Response) -> tuple[str, str]:
    """(code, message) from an OAuth, Graph or Keycloak error body; ("", "") for any other."""
    try:
        body = orjson.loads(response.content)
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    inner = body.get("error")
    if isinstance(inner, dict):  # Graph: {"error": {"code", "message"}}
        return str(inner.get("code", ""))[:80], str(inner.get("message", ""))[:200]
    description = body.get("error_description") or body.get("errorMessage") or ""
    return str(inner or "")[:80], str(description)[:200]


_TOKEN_HINTS = {
    400: "the token endpoint refused the request (check client_id and the tenant or realm)",
    401: "the token endpoint rejected the console's client credentials "
    "(check client_id and the secret)",
}
_DEFAULT_HINTS = {
    400: "the IdP refused the request",
    401: "the IdP rejected the console's access token",
    403: "the console's client lacks a permission for this call",
    404: "not found at the IdP",
    429: "rate limited by the IdP",
    500: "the IdP failed (server error)",
    502: "the IdP is unreachable behind its gateway",
    503: "the IdP is unavailable",
    504: "the IdP timed out behind its gateway",
}
