"""The one JSON fetch upstream modules build on: safe_fetch, explicit timeouts, optional retries.

Retries (when a caller asks for more than one attempt) cover 429 (honouring Retry-After, capped
at `max_wait`) and transient errors (timeouts, refused connections, 5xx) with exponential
backoff. Not protocol_error: a peer that answers with malformed HTTP does so again at once.
A `Pacer` (inventory/rate_limit.py), when given, spaces the requests of one crawl so a
rate-limited server is not hit again at full speed after each wait.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings

from inventory.fetch import FetchError, FetchResult, safe_fetch
from inventory.rate_limit import Pacer

log = logging.getLogger(__name__)

TRANSIENT_REASONS = {"timeout", "connect_error"}

# Indirection so tests can observe waits without sleeping.
_sleep = time.sleep


@dataclass(frozen=True)
class Timeouts:
    """Seconds for one request: to connect, between reads, and for the whole fetch."""

    connect: float = 5.0
    read: float = 10.0
    total: float = 30.0


def discovery_timeouts() -> Timeouts:
    """OAuth metadata and CIMD fetches: DISCOVERY_FETCH_TIMEOUT in all, reads within 5 s (read
    per call, so a changed setting applies at once)."""
    return Timeouts(
        connect=5.0,
        read=min(5.0, settings.DISCOVERY_FETCH_TIMEOUT),
        total=settings.DISCOVERY_FETCH_TIMEOUT,
    )


@dataclass(frozen=True)
class Retries:
    """How often to try one request, and the longest single wait between two tries."""

    attempts: int = 1
    max_wait: float = 60.0


@dataclass(frozen=True)
class JsonResponse:
    """A fetched JSON document, with the raw body and what the caching headers said."""

    document: object
    raw: bytes
    max_age: int | None
    headers: dict


class InvalidJson(FetchError):
    """The body was fetched but is not JSON; `raw` and `max_age` for callers that keep it."""

    def __init__(self, message: str, *, raw: bytes, max_age: int | None):
        super().__init__("invalid_json", message)
        self.raw, self.max_age = raw, max_age


def fetch_json(
    url: str,
    *,
    purpose: str,
    timeouts: Timeouts,
    max_bytes: int,
    max_redirects: int,
    retries: Retries = Retries(),
    pacer: Pacer | None = None,
    log_sink=None,
) -> JsonResponse:
    """GET `url` as JSON through safe_fetch; FetchError (InvalidJson for a non-JSON body)."""
    for attempt in range(retries.attempts):
        if pacer is not None:
            if (pause := pacer.delay()) > 0:
                _sleep(pause)
            pacer.started()
        try:
            result = _fetch(url, purpose, timeouts, max_bytes, max_redirects, log_sink)
            if pacer is not None:
                pacer.answered(result.headers)
            return _parsed(result)
        except FetchError as exc:
            if attempt == retries.attempts - 1 or not _retryable(exc):
                raise
            wait = _wait(exc, attempt, retries.max_wait)
            log.warning("%s fetch %s: %s; retrying in %.1fs", purpose, url, exc.reason, wait)
            if exc.reason == "rate_limited" and pacer is not None:
                pacer.refused(wait)
            _sleep(wait)
    raise AssertionError("unreachable")


def _fetch(url, purpose, timeouts: Timeouts, max_bytes, max_redirects, log_sink) -> FetchResult:
    return safe_fetch(
        url,
        purpose=purpose,
        max_bytes=max_bytes,
        max_redirects=max_redirects,
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
        total_timeout=timeouts.total,
        log_sink=log_sink,
    )


def _parsed(result: FetchResult) -> JsonResponse:
    try:
        document = result.json()
    except FetchError as exc:
        raise InvalidJson(exc.message, raw=result.content, max_age=result.max_age) from None
    return JsonResponse(document, result.content, result.max_age, result.headers)


def _retryable(exc: FetchError) -> bool:
    transient = exc.reason in TRANSIENT_REASONS or (
        exc.reason == "http_error" and (exc.status or 0) >= 500
    )
    return exc.reason == "rate_limited" or transient


def _wait(exc: FetchError, attempt: int, max_wait: float) -> float:
    """Retry-After for a 429 that sent one, else 1, 2, 4... seconds; never above max_wait."""
    if exc.reason == "rate_limited" and exc.retry_after is not None:
        return min(exc.retry_after, max_wait)
    return min(2**attempt, max_wait)
