"""The one safe fetcher every crawler uses (CIMD documents, OAuth metadata, registries).

Why it exists: the URLs we fetch come from untrusted parties (a client_id in an audit event, a
server's WWW-Authenticate header, a registry entry). Fetching them naively is an SSRF hole into
the console's network. So, before any connection:

- only https (plain http only for allow-listed hosts), no credentials in the URL;
- we resolve the name ourselves and refuse special-use addresses (RFC 6890: loopback, private,
  link-local, multicast, reserved, shared, documentation, cloud metadata; IPv4-mapped,
  -compatible, 6to4 and NAT64 forms of those) unless allow-listed in settings.FETCH_ALLOWLIST;
- then we connect to exactly the address we checked (a pinned httpcore network backend in
  inventory/fetch_transport.py), sending the original Host header and TLS SNI, so DNS cannot
  change its answer between check and use;
- each redirect hop is checked the same way (and CIMD allows none);
- body size is capped while streaming, and a total deadline bounds every socket operation, so a
  slow drip cannot hold a worker past `total_timeout`.
Every fetch is recorded in inventory.models.FetchRecord (the fetch log in the UI).
"""

from __future__ import annotations

import datetime
import logging
import time
import zlib
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx
import orjson
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from inventory import fetch_transport
from inventory.fetch_policy import (  # noqa: F401 - FetchError and the checks are public here
    FetchError,
    _Target,
    allows_plain_http,
    check_url,
    special_use_reason,
)
from inventory.models import FetchRecord
from inventory.remote_urls import strip_userinfo

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = {301, 302, 303, 307, 308}


@dataclass
class FetchResult:
    """A successful fetch: status allowed, content type accepted, body within the cap."""

    url: str
    final_url: str
    status_code: int
    headers: dict[str, str]
    content: bytes
    elapsed_ms: float
    max_age: int | None
    address: str = ""

    def json(self):
        """The body parsed as JSON; FetchError("invalid_json") when it is not."""
        try:
            return orjson.loads(self.content)
        except ValueError as exc:  # orjson.JSONDecodeError is one
            raise FetchError("invalid_json", f"body is not valid JSON: {exc}") from None


# --- Header helpers ----------------------------------------------------------------------------


def parse_max_age(cache_control: str | None) -> int | None:
    """Seconds from Cache-Control: max-age (0 for no-store/no-cache), None when absent."""
    if not cache_control:
        return None
    directives = {}
    for part in cache_control.lower().split(","):
        name, _, value = part.strip().partition("=")
        directives[name.strip()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return 0
    for key in ("s-maxage", "max-age"):
        if key in directives:
            try:
                return max(0, int(directives[key]))
            except ValueError:
                return None
    return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from Retry-After (delta-seconds or an HTTP date), None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; it means UTC, like every HTTP date
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - timezone.now()).total_seconds())


def _content_type_ok(content_type: str, accept: tuple[str, ...]) -> bool:
    if "*/*" in accept:
        return True
    media = content_type.split(";")[0].strip().lower()
    if media in accept:
        return True
    # application/json also admits the structured-suffix forms (application/<x>+json).
    return (
        "application/json" in accept
        and media.startswith("application/")
        and media.endswith("+json")
    )


# --- The fetch ----------------------------------------------------------------------------------


def safe_fetch(
    url: str,
    *,
    purpose: str,
    max_bytes: int = 1_000_000,
    max_redirects: int = 3,
    accept: tuple[str, ...] = ("application/json",),
    connect_timeout: float = 5.0,
    read_timeout: float = 10.0,
    total_timeout: float = 30.0,
    allow_status: tuple[int, ...] = (200,),
    record: bool = True,
    method: str = "GET",
    headers: dict | None = None,
    body: bytes | None = None,
    log_sink=None,
) -> FetchResult:
    """Fetch `url` under the policy above; FetchError on anything unacceptable.

    method/headers/body exist for the unauthenticated MCP probe of OAuth discovery; crawlers
    use the GET defaults. `log_sink` (a callable taking the fetch-log row as a dict) lets a
    batch crawler write the log rows itself, in bulk, instead of one INSERT per fetch.
    """
    started = time.monotonic()
    deadline = started + total_timeout
    fetch_transport.state.deadline = deadline
    # The fetch log is shown to Viewers: a URL's user:password@ (refused below) is not kept.
    log = {
        "url": _clip_bytes(strip_userinfo(url)[0], 2000),
        "purpose": purpose[:40],
        "method": method,
    }
    try:
        result = _fetch_following(
            url,
            log,
            max_bytes=max_bytes,
            max_redirects=max_redirects,
            accept=accept,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
            allow_status=allow_status,
            method=method,
            headers=headers or {},
            body=body,
        )
        result.elapsed_ms = (time.monotonic() - started) * 1000
        log.update(ok=True, bytes=len(result.content))
        return result
    except FetchError as exc:
        log.update(
            ok=False,
            error_reason=exc.reason,
            error_message=exc.message[:500],
            status_code=exc.status or log.get("status_code"),
        )
        raise
    finally:
        fetch_transport.state.deadline = None
        log["elapsed_ms"] = (time.monotonic() - started) * 1000
        if record and log_sink is not None:
            log_sink({**log, "at": timezone.now()})
        elif record:
            _record(log)


def _fetch_following(url, log, *, max_redirects, **kwargs) -> FetchResult:
    current = url
    for _hop in range(max_redirects + 1):
        left = fetch_transport.state.deadline - time.monotonic()
        target = check_url(current, timeout=max(0.0, left))
        log["address"] = target.address
        outcome = _fetch_once(target, log, **kwargs)
        if isinstance(outcome, FetchResult):
            outcome.url = url
            return outcome
        location = outcome  # a redirect
        if max_redirects == 0:
            raise FetchError(
                "redirect_refused",
                f"redirect to {location[:300]} refused (none allowed here)",
                status=log.get("status_code"),
            )
        try:
            current = str(target.url.join(location))
        except (httpx.InvalidURL, ValueError) as exc:  # e.g. "Location: http:////[::1]:x"
            raise FetchError(
                "invalid_url",
                f"bad redirect to {location[:300]!r}: {exc}",
                status=log.get("status_code"),
            ) from None
    raise FetchError(
        "too_many_redirects", f"more than {max_redirects} redirects", status=log.get("status_code")
    )


def _fetch_once(
    target: _Target, log, *, max_bytes, accept, timeout, allow_status, method, headers, body
) -> FetchResult | str:
    """One request to a checked target: a FetchResult, or the Location of a redirect."""
    send_headers = {
        "User-Agent": settings.FETCH_USER_AGENT,
        "Accept": ", ".join(accept),
        "Accept-Encoding": "gzip, identity",
        **headers,
    }
    fetch_transport.state.peer_closed = False
    try:
        client = fetch_transport.client_for(target)
        request = client.build_request(
            method, target.url, headers=send_headers, content=body, timeout=timeout
        )
        try:
            resp = client.send(request, stream=True)
        except (httpx.InvalidURL, ValueError, httpx.RemoteProtocolError) as exc:
            # Opening the response is the only step that parses a URL we did not check: on a
            # redirect httpx builds the follow-up request from the Location even when not
            # following it, and "https:x" raises InvalidURL there, a bad IDNA label
            # ("http://xn--0x") idna's UnicodeError (a ValueError), and a Location httpx
            # cannot parse at all ("http://[::1") a RemoteProtocolError raised while handling
            # an InvalidURL (every other RemoteProtocolError comes from the transport).
            if isinstance(exc, httpx.RemoteProtocolError) and not isinstance(
                exc.__context__, httpx.InvalidURL
            ):
                raise
            raise FetchError(
                "invalid_url", f"bad redirect location: {exc}"[:500], status=log.get("status_code")
            ) from None
        try:
            return _take_response(
                resp, target, log, max_bytes=max_bytes, accept=accept, allow_status=allow_status
            )
        finally:
            resp.close()
    except FetchError:
        raise
    except httpx.TimeoutException as exc:
        raise FetchError(
            "timeout", f"{type(exc).__name__}: {exc or 'timed out'}", status=log.get("status_code")
        ) from None
    except httpx.RemoteProtocolError as exc:
        # The peer answered with bytes that are not HTTP (a bad status line, header or chunk
        # size, conflicting Content-Length) unless it closed the connection first: a response
        # cut off, or none at all, is a broken connection like a reset, not a malformed one.
        reason = "connect_error" if fetch_transport.state.peer_closed else "protocol_error"
        raise FetchError(
            reason, f"{type(exc).__name__}: {exc}"[:500], status=log.get("status_code")
        ) from None
    except httpx.LocalProtocolError as exc:  # the request we built is not valid HTTP: our bug
        raise _internal_error(exc, target, log) from None
    except httpx.TransportError as exc:  # refused, reset, unreachable, a failed TLS handshake
        raise FetchError(
            "connect_error", f"{type(exc).__name__}: {exc}"[:500], status=log.get("status_code")
        ) from None
    except Exception as exc:  # a bug on our side, but a peer's response must not crash a crawl
        raise _internal_error(exc, target, log) from None


def _internal_error(exc: Exception, target: _Target, log) -> FetchError:
    logger.exception("unexpected error fetching %s", str(target.url)[:300])
    return FetchError(
        "internal_error",
        f"unexpected {type(exc).__name__}: {exc}"[:500],
        status=log.get("status_code"),
    )


def _take_response(
    resp: httpx.Response, target: _Target, log, *, max_bytes, accept, allow_status
) -> FetchResult | str:
    """The Location of a redirect, or the checked and capped body of an allowed response."""
    log["status_code"] = resp.status_code
    log["final_url"] = str(target.url)[:2000]
    if resp.status_code in REDIRECT_STATUSES and resp.headers.get("location"):
        return resp.headers["location"]
    _check_status(resp, allow_status)
    ctype = resp.headers.get("content-type", "")
    if not _content_type_ok(ctype, accept):
        raise FetchError(
            "bad_content_type",
            f"content type {ctype[:100]!r} is not one of {accept}",
            status=resp.status_code,
        )
    content = _read_capped(resp, max_bytes)
    return FetchResult(
        url=str(target.url),
        final_url=str(target.url),
        status_code=resp.status_code,
        headers={k.lower(): v for k, v in resp.headers.items()},
        content=content,
        elapsed_ms=0.0,
        max_age=parse_max_age(resp.headers.get("cache-control")),
        address=target.address,
    )


def _check_status(resp: httpx.Response, allow_status) -> None:
    retry_after = parse_retry_after(resp.headers.get("retry-after"))
    if resp.status_code == 429 or (resp.status_code == 503 and retry_after is not None):
        raise FetchError(
            "rate_limited",
            f"HTTP {resp.status_code}; retry after {retry_after}s",
            status=resp.status_code,
            retry_after=retry_after,
            headers={k.lower(): v for k, v in resp.headers.items()},
        )
    if resp.status_code not in allow_status:
        raise FetchError(
            "http_error",
            f"HTTP {resp.status_code}",
            status=resp.status_code,
            retry_after=retry_after,
            headers={k.lower(): v for k, v in resp.headers.items()},
        )


def _read_capped(resp: httpx.Response, max_bytes: int) -> bytes:
    """The body, refusing (without reading it all) anything over max_bytes, raw or decoded."""
    declared = resp.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(
            "too_large", f"declared {declared} bytes, limit {max_bytes}", status=resp.status_code
        )
    chunks, total = [], 0
    for chunk in resp.iter_raw():  # raw: a compressed bomb is capped before it is inflated
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(
                "too_large", f"body exceeds {max_bytes} bytes", status=resp.status_code
            )
        chunks.append(chunk)
    raw = b"".join(chunks)
    encoding = resp.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(
            "bad_content_type",
            f"unsupported content encoding {encoding!r}",
            status=resp.status_code,
        )
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, auto-detected
    try:
        body = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise FetchError(
            "http_error", f"corrupt {encoding} body: {exc}", status=resp.status_code
        ) from None
    if len(body) > max_bytes or inflater.unconsumed_tail:
        raise FetchError(
            "too_large", f"decoded body exceeds {max_bytes} bytes", status=resp.status_code
        )
    return body


def _clip_bytes(text: str, limit: int) -> str:
    """At most `limit` characters and UTF-8 bytes: the fetch log's (url, at) index cannot hold a
    key over ~2,700 bytes, and a hostile URL of 2,000 multi-byte characters would exceed it."""
    return text[:limit].encode("utf-8", "replace")[:limit].decode("utf-8", "ignore")


def write_fetch_log(rows: list[dict]) -> None:
    """Bulk-insert fetch-log rows collected through a log_sink."""
    FetchRecord.objects.bulk_create([FetchRecord(**row) for row in rows])


def _record(log: dict) -> None:
    """Append to the fetch log; a logging failure must not poison the caller's transaction."""
    try:
        with transaction.atomic():
            FetchRecord.objects.create(at=timezone.now(), **log)
    except DatabaseError:
        logger.warning("could not record fetch of %s", log.get("url"), exc_info=True)
