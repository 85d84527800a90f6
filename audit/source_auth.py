"""Authenticating event sources (bearer tokens) and their per-source request rate limit.

The ingest views (native API and OTLP) call `source_from_request` then
`rate_limit_retry_after` before reading the body.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from django.conf import settings
from django.db import connection

from audit.models import EventSource

TOKEN_PREFIX = "mcpg_"


class SourceAuthError(Exception):
    """The request has no usable source token (always a 401 with a message that says why)."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status
        self.message = message


def new_token() -> str:
    """A fresh 256-bit bearer token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What we store: the token's sha256 (tokens are random, so no slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# token hash -> (monotonic expiry, source or None). One lookup per request costs a round trip
# on the hot path; a rotated or disabled token stops working here at once (the services clear
# this cache) and in other web processes within CACHE_SECONDS.
CACHE_SECONDS = 2.0
_cache: dict[str, tuple[float, EventSource | None]] = {}


def forget_cached_sources() -> None:
    _cache.clear()


def _lookup(token_hash: str) -> EventSource | None:
    now = time.monotonic()
    hit = _cache.get(token_hash)
    if hit and hit[0] > now:
        return hit[1]
    source = EventSource.objects.filter(token_hash=token_hash).first()
    if len(_cache) > 10_000:  # unknown tokens must not grow it without bound
        _cache.clear()
    _cache[token_hash] = (now + CACHE_SECONDS, source)
    return source


def source_from_request(request) -> EventSource:
    """The enabled source whose token is in `Authorization: Bearer <token>` (else
    SourceAuthError)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise SourceAuthError("Missing bearer token: send 'Authorization: Bearer <source token>'.")
    if len(token) > 200:
        raise SourceAuthError("Unknown source token.")
    source = _lookup(hash_token(token))
    if source is None:
        raise SourceAuthError("Unknown source token.")
    if not source.enabled:
        raise SourceAuthError(f"Event source {source.name!r} is disabled.")
    return source


_COUNT_SQL = """
INSERT INTO audit_rate_window (source_id, window_start, requests)
VALUES (%s, to_timestamp(%s), %s)
ON CONFLICT (source_id, window_start) DO UPDATE SET requests = audit_rate_window.requests + %s
RETURNING requests
"""
WINDOW_SECONDS = 60
# A process adds its requests to the shared count in batches of limit / BATCH_DIVISOR (at least
# one) or at least every SYNC_SECONDS: one statement per batch instead of per request (a
# per-request upsert cost one-event senders ~25% of their throughput). The count can then run
# over the limit by at most one batch per process: 60 requests of 120,000/minute per process,
# none for limits up to 2,000/minute, which are counted request by request as before.
BATCH_DIVISOR = 2000
SYNC_SECONDS = 0.25


class _Window:
    """One process's view of a source's current one-minute window."""

    __slots__ = ("start", "shared", "unsent", "synced_at")

    def __init__(self, start: int):
        # synced "never": a process's first request of a window learns the shared count at once
        self.start, self.shared, self.unsent, self.synced_at = start, 0, 0, float("-inf")


_windows: dict[int, _Window] = {}
_windows_lock = threading.Lock()


def rate_limit_retry_after(source) -> int | None:
    """Count this request in the source's current minute; seconds to wait when over the limit.

    A fixed one-minute window per source, counted in an UNLOGGED table so every web process
    shares one count (a per-process counter would multiply the limit by the process count).
    """
    limit = source.rate_limit_per_minute or settings.AUDIT_DEFAULT_RATE_LIMIT_PER_MINUTE
    if not limit:
        return None
    now = time.time()
    start = int(now // WINDOW_SECONDS * WINDOW_SECONDS)
    batch = max(1, limit // BATCH_DIVISOR)
    with _windows_lock:
        window = _windows.get(source.pk)
        if window is None or window.start != start:
            window = _windows[source.pk] = _Window(start)
        window.unsent += 1
        send = (
            window.unsent
            if (window.unsent >= batch or time.monotonic() - window.synced_at >= SYNC_SECONDS)
            else 0
        )
        window.unsent -= send
        if send:
            window.synced_at = time.monotonic()
        seen = window.shared + window.unsent + send
    if send:
        with connection.cursor() as cursor:
            cursor.execute(_COUNT_SQL, [source.pk, start, send, send])
            (shared,) = cursor.fetchone()
        with _windows_lock:
            if window.start == start:
                window.shared = max(window.shared, shared)
            seen = shared + window.unsent
    if seen <= limit:
        return None
    return max(1, int(start + WINDOW_SECONDS - now))


def forget_rate_windows() -> None:
    """Drop this process's unsent counts (tests)."""
    with _windows_lock:
        _windows.clear()
