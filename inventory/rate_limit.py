"""Pacing one crawl's requests to a rate-limited server (no I/O but the waits).

Honouring Retry-After alone is not enough: after the wait a crawler that bursts again at full
speed is refused again at once by any limiter that refills gradually (a token bucket, nginx's
limit_req), drawing a 429 every few requests. So a `Pacer`:

- reads the RateLimit headers a server sends — the IETF draft (`RateLimit` with
  `RateLimit-Policy`, both the structured form `"p";r=3;t=10` and draft 7's
  `limit=10, remaining=3, reset=10`) and the common `X-RateLimit-Limit/-Remaining/-Reset` (or
  `RateLimit-Remaining/-Reset`) — and waits for the reset when no request is left;
- with no such headers, slows down after a 429 to the rate it implies: the requests it was
  granted since the last refusal, over the time from then until it may ask again
  (Retry-After), less 10% for safety; never faster again within the crawl.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

SAFETY = 1.1  # pace 10% under the implied rate: our clock and the server's window differ
EPOCH_THRESHOLD = 1_000_000_000  # an X-RateLimit-Reset above this is a Unix time, not seconds
_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


@dataclass
class Quota:
    """What a response says about the rate limit; None where it says nothing."""

    remaining: float | None = None
    reset: float | None = None  # seconds until the quota is back
    limit: float | None = None
    window: float | None = None  # seconds (RateLimit-Policy's w)


def _number(value) -> float | None:
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    return None


def _params(item: str) -> dict[str, str]:
    """`"name";r=3;t=10` or `10;w=60` or `remaining=3` → {key: value}; a bare number is `q`."""
    out = {}
    for part in item.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            out[key.strip().lower()] = value.strip().strip('"')
        elif _number(key) is not None:
            out["q"] = key.strip()
    return out


def _ietf(headers: dict) -> Quota:
    """The draft's `RateLimit` (+ `RateLimit-Policy`): the most constrained quota listed."""
    quota = Quota()
    value = headers.get("ratelimit", "")
    if "remaining=" in value:  # draft 7: one dictionary, "limit=10, remaining=3, reset=10"
        params = {k: v for member in value.split(",") for k, v in _params(member).items()}
        quota = Quota(
            _number(params.get("remaining")),
            _number(params.get("reset")),
            _number(params.get("limit")),
        )
    elif value:  # draft 8+: a list of quotas, '"default";r=3;t=10, "daily";r=900;t=3600'
        quotas = [_params(item) for item in value.split(",")]
        known = [(_number(p.get("r")), _number(p.get("t"))) for p in quotas]
        known = [(r, t) for r, t in known if r is not None]
        if known:
            quota.remaining, quota.reset = min(known, key=lambda q: (q[0], -(q[1] or 0)))
    policy = [_params(item) for item in headers.get("ratelimit-policy", "").split(",") if item]
    windows = [(_number(p.get("q")), _number(p.get("w"))) for p in policy]
    windows = [(q, w) for q, w in windows if q and w]
    if windows:  # the tightest policy: fewest requests per second
        quota.limit, quota.window = min(windows, key=lambda qw: qw[0] / qw[1])
    return quota


def quota_from_headers(headers: dict, *, now_epoch: float | None = None) -> Quota | None:
    """The rate-limit state a response's headers (lower-cased names) announce, or None."""
    if "ratelimit" in headers or "ratelimit-policy" in headers:
        quota = _ietf(headers)
    else:
        prefix = "x-ratelimit-" if "x-ratelimit-remaining" in headers else "ratelimit-"
        quota = Quota(
            _number(headers.get(prefix + "remaining")),
            _number(headers.get(prefix + "reset")),
            _number(headers.get(prefix + "limit")),
        )
        if quota.reset is not None and quota.reset > EPOCH_THRESHOLD:  # GitHub's Unix time
            if quota.reset > EPOCH_THRESHOLD * 1000:  # in milliseconds
                quota.reset /= 1000
            quota.reset = max(0.0, quota.reset - (now_epoch or time.time()))
    if quota.remaining is None and quota.window is None:
        return None
    return quota


class Pacer:
    """Spaces the requests of one crawl to one server (see the module docstring)."""

    def __init__(self, *, max_wait: float, clock=time.monotonic):
        self.max_wait, self.clock = max_wait, clock
        self.interval = 0.0  # at least this many seconds between request starts
        self.not_before = 0.0  # no request before this clock time
        self.granted, self.since = 0, clock()  # answered since the last 429 (or the start)
        self.refusals = 0

    def delay(self) -> float:
        """Seconds to wait before the next request; the caller sleeps, then calls started()."""
        return max(0.0, self.not_before - self.clock())

    def started(self) -> None:
        self.not_before = max(self.not_before, self.clock() + self.interval)

    def answered(self, headers: dict) -> None:
        """A response that was not a 429: count it, and obey its RateLimit headers."""
        self.granted += 1
        quota = quota_from_headers(headers)
        if quota is None:
            return
        if quota.remaining is not None and quota.remaining < 1:
            wait = min(quota.reset if quota.reset is not None else 1.0, self.max_wait)
            self.not_before = max(self.not_before, self.clock() + wait)
        elif quota.remaining is None and quota.window:  # only a policy: spread it evenly
            self.interval = max(self.interval, min(quota.window / quota.limit, self.max_wait))

    def refused(self, wait: float) -> None:
        """A 429, after which the caller waits `wait` seconds: slow down to the implied rate."""
        self.refusals += 1
        now = self.clock()
        if self.granted:
            implied = (now - self.since + wait) / self.granted * SAFETY
            self.interval = max(self.interval, min(implied, self.max_wait))
        self.granted, self.since = 0, now + wait
