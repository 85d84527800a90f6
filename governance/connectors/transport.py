"""HTTP for connectors: every call goes through the project's SSRF-safe fetcher, with explicit
timeouts, and comes back as a plain `Response` whatever its status.

The safe fetcher (inventory/fetch.py) checks the URL, resolves the name itself, refuses
special-use addresses unless they are in settings.FETCH_ALLOWLIST, pins the connection, caps the
body and bounds the whole call by a deadline. An IdP is configured by an admin, not found in
untrusted data, but the same rules keep a typo or a hostile redirect from reaching the
console's own network. Calls are not written to the fetch log: the log is shown to Viewers and
is about crawling; the job that calls a connector records what it did.

Tests of odd server answers pass an `httpx.MockTransport` as `mock`; nothing else should.

Retries and pacing are the caller's choice, not the connector's: a job that reads an IdP (a
sync) wraps its work in `retrying(RetryPolicy(...))`, and within it every GET is retried on 5xx,
429 and transient failures (bounded attempts, exponential backoff, a server's Retry-After
waited out), and a response that says the rate-limit window is spent (`X-Rate-Limit-Remaining:
0` with its reset, Okta's form, or Auth0's `X-RateLimit-*`) makes the next call wait for the
reset instead of collecting a 429; a 429 that comes anyway waits out its own reset header
(`Retry-After` first). A retried GET of one page resumes a listing mid-way, which
no generator could after an exception. Writes (POST, DELETE) are never retried here.
"""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import orjson
from django.db import connections

from governance.connectors import pacing
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


@dataclass(frozen=True)
class RetryPolicy:
    """How calls in a `retrying()` block retry and pace. `on_wait(reason, seconds)` hears
    every wait (reason: "server_error", "rate_limited", "transient" or "pacing")."""

    attempts: int = 6  # tries per call, the first included
    backoff: float = 1.0  # the first wait after a 5xx; doubled each retry
    max_wait: float = 120.0  # the longest single wait; a longer Retry-After fails the call
    sleep: Callable[[float], None] = time.sleep
    on_wait: Callable[[str, float], None] | None = None

    def wait(self, reason: str, seconds: float) -> None:
        if self.on_wait is not None:
            self.on_wait(reason, seconds)
        self.sleep(seconds)


# Beyond this, our clock and the IdP's Date disagree and the IdP's is the one to count against.
CLOCK_SKEW_TOLERANCE = 2.0

_policy: ContextVar[RetryPolicy | None] = ContextVar("connector_retry_policy", default=None)


@contextlib.contextmanager
def retrying(policy: RetryPolicy) -> Iterator[RetryPolicy]:
    """Within this block, connector GETs retry and pace by `policy`."""
    token = _policy.set(policy)
    try:
        yield policy
    finally:
        _policy.reset(token)


# Containment records which requests each revocation step made: `observing()` collects, for
# every request in its block, the method, the URL path (no host, no query: Google's revoke puts
# the token in the query) and the status or the failure's code. Never a header or a body.
_observed: ContextVar[list | None] = ContextVar("connector_observed_requests", default=None)
MAX_OBSERVED = 50


@contextlib.contextmanager
def observing() -> Iterator[list[dict]]:
    """Within this block, each request's {method, path, status[, error_code]} is appended to
    the list this yields (the first MAX_OBSERVED)."""
    seen: list[dict] = []
    token = _observed.set(seen)
    try:
        yield seen
    finally:
        _observed.reset(token)


def _observe(method: str, url: str, status: int | None, error_code: str = "") -> None:
    seen = _observed.get()
    if seen is None or len(seen) >= MAX_OBSERVED:
        return
    entry = {"method": method, "path": urlsplit(url).path, "status": status}
    if error_code:
        entry["error_code"] = error_code
    seen.append(entry)


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
    """One request (retried and paced by the active `retrying()` policy when it is a GET); a
    Response for any HTTP status, ConnectorError when there is no answer (refused, timed out,
    blocked by the fetch policy, rate limited)."""
    policy = _policy.get()

    def send() -> Response:  # the one call, retried below
        try:
            response = _request_once(
                method,
                url,
                call=call,
                headers=headers,
                form=form,
                json=json,
                timeouts=timeouts,
                mock=mock,
            )
        except ConnectorError as exc:
            _observe(method, url, exc.status, exc.error_code)
            raise
        _observe(method, url, response.status)
        return response

    if policy is None or method != "GET":
        return send()
    for attempt in range(1, policy.attempts + 1):
        last = attempt == policy.attempts
        try:
            response = send()
        except ConnectorError as exc:
            wait = _retry_wait(policy, attempt, exc.status, exc.retry_after, exc.retryable)
            if last or wait is None:
                raise
            policy.wait("rate_limited" if exc.status == 429 else "transient", wait)
            continue
        if response.status >= 500 and not last:
            wait = _retry_wait(policy, attempt, response.status, retry_after(response), True)
            if wait is not None:
                policy.wait("server_error", wait)
                continue
        pause = _window_spent(response)
        if pause:
            policy.wait("pacing", min(pause, policy.max_wait))
        return response
    raise AssertionError("unreachable: the last attempt returns or raises")


def _retry_wait(policy, attempt, status, server_says, retryable) -> float | None:
    """Seconds to wait before the next try, None when this failure is not worth one."""
    if not retryable:
        return None
    if server_says is not None:
        return server_says if server_says <= policy.max_wait else None
    return min(policy.backoff * 2 ** (attempt - 1), policy.max_wait)


def _window_spent(response: Response) -> float:
    """Seconds until the rate-limit window resets when this answer spent its last request
    (Okta `X-Rate-Limit-*`, reset against the server's `Date`; Auth0 `X-RateLimit-*`)."""
    h = response.headers
    remaining = h.get("x-rate-limit-remaining", h.get("x-ratelimit-remaining"))
    reset = h.get("x-rate-limit-reset", h.get("x-ratelimit-reset"))
    if remaining is None or reset is None or remaining.strip() != "0":
        return 0.0
    try:
        reset_at = float(reset)
    except ValueError:
        return 0.0
    now = time.time()
    with contextlib.suppress(KeyError, TypeError, ValueError):
        server_now = email.utils.parsedate_to_datetime(h["date"]).timestamp()
        # Okta counts the reset against the server's Date (its clock, not ours). Date has whole
        # seconds, so a clock within a few seconds of it is ours in step and the finer one.
        if abs(now - server_now) > CLOCK_SKEW_TOLERANCE:
            now = server_now
    return max(0.0, reset_at - now)


def _request_once(
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
        wait = exc.retry_after
        if wait is None and exc.status == 429:  # the 429's own reset (Okta, Auth0) says when
            wait = pacing.reset_after(exc.headers)
        raise ConnectorError(
            exc.message,
            call=call,
            endpoint=url,
            status=exc.status,
            error_code=exc.reason,
            retry_after=wait,
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
