"""Authenticating event sources (bearer tokens) and their per-source request rate limit.

The ingest views (native API and OTLP) call `source_from_request` then
`rate_limit_retry_after` before reading the body.
"""

from __future__ import annotations

import hashlib
import secrets
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
    """The enabled source whose token is in `Authorization: Bearer <token>`, else SourceAuthError."""
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
VALUES (%s, date_trunc('minute', clock_timestamp()), 1)
ON CONFLICT (source_id, window_start) DO UPDATE SET requests = audit_rate_window.requests + 1
RETURNING requests, ceil(extract(epoch FROM window_start + interval '1 minute' - clock_timestamp()))
"""


def rate_limit_retry_after(source) -> int | None:
    """Count this request in the source's current minute; seconds to wait when over the limit.

    A fixed one-minute window per source kept in an UNLOGGED table, so every web worker
    shares one count (a per-process counter would multiply the limit by the worker count).
    """
    limit = source.rate_limit_per_minute or settings.AUDIT_DEFAULT_RATE_LIMIT_PER_MINUTE
    if not limit:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_SQL, [source.pk])
        requests, seconds_left = cursor.fetchone()
    if requests <= limit:
        return None
    return max(1, int(seconds_left or 1))
