"""Pacing under an IdP's advertised rate limit, for any kind whose answers say how much of the
window is left (Okta `X-Rate-Limit-*`, Auth0 `X-RateLimit-*`).

A connector reads each answer's headers into a `Window` and hands it to its `Pacer`; before the
next request on the same bucket the pacer sleeps until the window resets when (almost) nothing
is left. It never spends the last request of a window on purpose, so a sync that paces itself
collects no 429s; a 429 that comes anyway (another client shares the limit) carries its own
reset, which `reset_after` reads: the transport makes it the ConnectorError's `retry_after`.

The reset is an epoch second on the server's clock: it is read against the answer's `Date`
header, not the local clock, which may be minutes off (okta-sdk-python does the same).
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Longest a pacer will sleep for one window: a reset far in the future is a broken header.
MAX_WAIT_SECONDS = 120.0
# Where a window's reset (epoch seconds) is announced: Okta's name, then Auth0's.
RESET_HEADERS = ("x-rate-limit-reset", "x-ratelimit-reset")


@dataclass(frozen=True)
class Window:
    """What one answer said about its rate-limit window."""

    limit: int
    remaining: int
    reset_after: float  # seconds until the window resets, on the server's clock


def window_from_headers(
    headers: Mapping[str, str],
    *,
    limit: str,
    remaining: str,
    reset: str,
    now: Callable[[], float] = time.time,
) -> Window | None:
    """The window an answer describes (header names lower-case), None when it says nothing
    usable. `reset` holds an epoch second; the server's `Date` is "now" when it sent one."""
    try:
        window_limit = int(headers[limit])
        window_remaining = int(headers[remaining])
    except (KeyError, TypeError, ValueError):
        return None
    wait = reset_after(headers, names=(reset,), now=now)
    return None if wait is None else Window(window_limit, window_remaining, wait)


def reset_after(
    headers: Mapping[str, str],
    *,
    names: tuple[str, ...] = RESET_HEADERS,
    now: Callable[[], float] = time.time,
) -> float | None:
    """Seconds until the window resets, from the first of `names` the answer carries (an epoch
    second) against its `Date`; None when it names no reset. A 429 carries it too: its own
    reset is the wait it asks for."""
    value = next((headers[name] for name in names if name in headers), None)
    try:
        reset_at = float(value)
    except (TypeError, ValueError):
        return None
    server_now = _server_time(headers.get("date")) or now()
    # +1: the reset second itself still belongs to the old window (okta-sdk-python adds it too).
    return min(max(reset_at - server_now, 0.0) + 1.0, MAX_WAIT_SECONDS)


def _server_time(date_header: str | None) -> float | None:
    if not date_header:
        return None
    try:
        return email.utils.parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError):
        return None


class Pacer:
    """Sleeps before a request when the bucket's window is spent down to `reserve`.

    One pacer per connector; buckets are the caller's names for the IdP's separate limits
    (Okta limits each endpoint family on its own). `sleep` and `clock` are injectable so tests
    can watch the waits without waiting."""

    def __init__(
        self,
        *,
        reserve: int = 0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.reserve = reserve
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._reset_at: dict[str, float] = {}  # bucket -> monotonic time its window resets
        self._spent: set[str] = set()  # buckets whose last answer left `reserve` or less
        self.waited = 0.0  # seconds slept in total, for progress reports and tests

    def before(self, bucket: str) -> None:
        """Call before each request: waits out the window if the last answer left too little."""
        with self._lock:
            if bucket not in self._spent:
                return
            self._spent.discard(bucket)
            delay = self._reset_at[bucket] - self._clock()
        if delay > 0:
            self.waited += delay
            self._sleep(delay)

    def observe(self, bucket: str, window: Window | None) -> None:
        """Call after each answer with the window it described (None: it said nothing)."""
        if window is None:
            return
        with self._lock:
            self._reset_at[bucket] = self._clock() + window.reset_after
            if window.remaining <= self.reserve:
                self._spent.add(bucket)
            else:
                self._spent.discard(bucket)

    def reset_in(self, bucket: str) -> float | None:
        """Seconds until the bucket's current window resets, as the last answer said (None when
        no answer said, or it has reset since): the wait a 429 in that window asks for."""
        with self._lock:
            reset_at = self._reset_at.get(bucket)
        if reset_at is None or reset_at <= self._clock():
            return None
        return reset_at - self._clock()
