"""HTTP for connectors: every call goes through the project's SSRF-safe fetcher, with explicit
timeouts, and comes back as a plain `Response` whatever its status.

The safe fetcher (inventory/fetch.py) checks the URL, resolves the name itself, refuses
special-use addresses unless they are in settings.FETCH_ALLOWLIST, pins the connection, caps the
body and bounds the whole call by a deadline. An IdP is configured by an admin, not found in
untrusted data, but the same rules keep a typo or a hostile redirect from reaching the
console's own network. Calls are not written to the fetch log: the log is shown to Viewers and
is about crawling; the job that calls a connector records what it did.

Tests of odd server answers pass an `httpx.MockTransport` as `mock`; nothing else should.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import orjson
from django.db import connections

from governance.connectors.base import ConnectorError
from inventory.fetch import FetchError, parse_retry_after, safe_fetch

# Every status comes back to the connector, which knows what each means for its call.
_ANY_STATUS = tuple(range(200, 600))
# Redirects are not followed: a POST carrying client credentials must not be replayed elsewhere.
_NO_REDIRECTS = 0


@dataclass(frozen=True)
class Timeouts:
    """Explicit bounds for one call: connecting, each read, and the whole call."""

    connect: float = 5.0
    read: float = 10.0
    total: float = 20.0


@dataclass(frozen=True)
class Response:
    """A response of any status, body capped."""

    status: int
    headers: dict[str, str]
    content: bytes
    endpoint: str

    def json(self, *, call: str):
        """The body as JSON; ConnectorError naming the call when it is not."""
        try:
            return orjson.loads(self.content)
        except ValueError:
            snippet = self.content[:80].decode("utf-8", "replace")
            raise ConnectorError(
                f"the answer is not JSON (starts {snippet!r})",
                call=call,
                endpoint=self.endpoint,
                status=self.status,
                error_code="invalid_json",
            ) from None


def request(
    method: str,
    url: str,
    *,
    call: str,
    headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    json: dict | None = None,
    timeouts: Timeouts,
    mock: httpx.MockTransport | None = None,
) -> Response:
    """One request; a Response for any HTTP status, ConnectorError when there is no answer
    (refused, timed out, blocked by the fetch policy, rate limited)."""
    if any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        # A call can take `timeouts.total` seconds; a transaction held open that long blocks
        # other writers and would be rolled back after the IdP already acted.
        raise ConnectorError(
            "connectors are never called inside transaction.atomic(): call it before or after",
            call=call,
            endpoint=url,
            error_code="inside_transaction",
        )
    headers = dict(headers or {})
    body = None
    if form is not None:
        body = str(httpx.QueryParams(form)).encode("ascii")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json is not None:  # admin APIs take JSON bodies (Graph PATCH, Keycloak PUT)
        body = orjson.dumps(json)
        headers["Content-Type"] = "application/json"
    if mock is not None:
        return _mocked(method, url, call=call, headers=headers, body=body, mock=mock)
    try:
        result = safe_fetch(
            url,
            purpose=f"idp_{call}"[:40],
            method=method,
            headers=headers,
            body=body,
            accept=("application/json", "*/*"),
            allow_status=_ANY_STATUS,
            max_redirects=_NO_REDIRECTS,
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            total_timeout=timeouts.total,
            record=False,
        )
    except FetchError as exc:
        raise ConnectorError(
            exc.message,
            call=call,
            endpoint=url,
            status=exc.status,
            error_code=exc.reason,
            retry_after=exc.retry_after,
        ) from None
    return Response(result.status_code, result.headers, result.content, url)


def _mocked(method, url, *, call, headers, body, mock) -> Response:
    started = time.monotonic()
    with httpx.Client(transport=mock) as client:
        try:
            resp = client.request(method, url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            raise ConnectorError(
                f"{type(exc).__name__}: {exc} after {time.monotonic() - started:.1f}s",
                call=call,
                endpoint=url,
                error_code="connect_error",
            ) from None
    return Response(
        resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content, url
    )


def retry_after(response: Response) -> float | None:
    """Seconds the server asked us to wait (Retry-After), None when it did not say."""
    return parse_retry_after(response.headers.get("retry-after"))
