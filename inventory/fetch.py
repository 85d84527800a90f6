"""Stand-in for the safe fetcher (the fetch branch replaces this file with the real one).

Same signatures as the discovery contract; plain httpx, no SSRF checks, no fetch records.
It exists only so the registry crawler can be built and tested before the real one lands.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx

USER_AGENT = "mcp-governance-console/1 (stand-in fetcher)"


class FetchError(Exception):
    """A fetch that failed or was refused; `reason` is a short code, `message` human text."""

    def __init__(self, reason: str, message: str, *, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass
class FetchResult:
    url: str
    final_url: str
    status_code: int
    headers: dict[str, str]
    content: bytes
    elapsed_ms: float
    max_age: int | None

    def json(self):
        try:
            return json.loads(self.content)
        except ValueError as exc:
            raise FetchError("invalid_json", f"response is not JSON: {exc}") from exc


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _max_age(cache_control: str | None) -> int | None:
    if not cache_control:
        return None
    for part in cache_control.lower().split(","):
        part = part.strip()
        if part == "no-store":
            return 0
        if part.startswith("max-age="):
            try:
                return int(part[8:])
            except ValueError:
                return None
    return None


def safe_fetch(url: str, *, purpose: str, max_bytes: int = 1_000_000, max_redirects: int = 3,
               accept: tuple[str, ...] = ("application/json",), connect_timeout: float = 5.0,
               read_timeout: float = 10.0, total_timeout: float = 30.0,
               allow_status: tuple[int, ...] = (200,), record: bool = True) -> FetchResult:
    """GET `url` with size, time and redirect caps (stand-in: no address checks)."""
    started = time.monotonic()
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    headers = {"User-Agent": USER_AGENT, "Accept": ", ".join(accept)}
    current = url
    with httpx.Client(timeout=timeout, follow_redirects=False, headers=headers) as client:
        for _hop in range(max_redirects + 1):
            try:
                with client.stream("GET", current) as response:
                    if response.is_redirect:
                        current = str(response.next_request.url)
                        continue
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise FetchError("too_large", f"body exceeds {max_bytes} bytes")
                        if time.monotonic() - started > total_timeout:
                            raise FetchError("timeout", "total time exceeded")
            except httpx.TimeoutException as exc:
                raise FetchError("timeout", str(exc) or "timed out") from exc
            except httpx.TransportError as exc:
                raise FetchError("connect_error", str(exc) or "connection failed") from exc
            if response.status_code == 429:
                raise FetchError("rate_limited", "HTTP 429", status=429,
                                 retry_after=_retry_after(response.headers.get("retry-after")))
            if response.status_code not in allow_status:
                raise FetchError("http_error", f"HTTP {response.status_code}",
                                 status=response.status_code)
            ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if accept and ctype not in accept:
                raise FetchError("bad_content_type", f"content type {ctype or 'missing'}")
            return FetchResult(
                url=url, final_url=current, status_code=response.status_code,
                headers={k.lower(): v for k, v in response.headers.items()},
                content=bytes(body), elapsed_ms=(time.monotonic() - started) * 1000,
                max_age=_max_age(response.headers.get("cache-control")))
    raise FetchError("too_many_redirects", f"more than {max_redirects} redirects")
