"""Which (server, tool) pairs this process stored within the last minute, so the tool statement
(inventory/services/derive_event_rules.py) reads only a batch's other pairs, and a batch whose
pairs all are skips it altogether.

That statement does nothing for such a batch: the Tool rows exist and cover its times (first
and last seen kept to the minute), and the open name-violation findings are refreshed at most
once a minute. Skipping it saves ~0.17 ms of the database's ~1 ms for a one-event request,
where a gateway's traffic calls the same few tools over and over. An entry lasts a minute of
this process's clock, so a tool row deleted meanwhile (its server deleted) is back within a
minute, as after any skipped refresh.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from audit.services.validation import STAGE_COLUMNS

# How long an entry counts, and the slack a stored row's times have (derive.FRESH).
ENTRY_SECONDS = 60.0
SLACK = timedelta(minutes=1)
MAX_ENTRIES = 50_000  # a bound on memory: past it, the cache starts over

_TIME, _SERVER, _TOOL = (STAGE_COLUMNS.index(c) for c in ("time", "server_name", "tool"))
_lock = threading.Lock()
_pairs: dict[tuple[str, str], tuple[float, object, object]] = {}  # (expiry, first, last)


def _batch_pairs(rows: list) -> dict[tuple[str, str], tuple[object, object]]:
    found: dict[tuple[str, str], tuple[object, object]] = {}
    for row in rows:
        if row[_TOOL] and row[_SERVER]:
            key, at = (row[_SERVER], row[_TOOL][:300]), row[_TIME]
            first, last = found.get(key, (at, at))
            found[key] = (min(first, at), max(last, at))
    return found


def stale_pairs(rows: list) -> dict[tuple[str, str], tuple[object, object]]:
    """The batch's (server, tool) pairs this process did not store within the last minute
    covering the batch's times, with their first and last call: what the statement must read
    (a gateway calling the same tools over and over leaves a new tool or two per batch, not the
    hundreds of pairs each index probe costs)."""
    now = time.monotonic()
    stale = {}
    with _lock:
        for key, (first, last) in _batch_pairs(rows).items():
            entry = _pairs.get(key)
            if entry is None or entry[0] < now or first < entry[1] or last > entry[2] + SLACK:
                stale[key] = (first, last)
    return stale


def remember(pairs: dict[tuple[str, str], tuple[object, object]]) -> None:
    """These pairs (stale_pairs' answer) are stored: their transaction committed. Only these:
    a fresh pair the statement did not read keeps its entry as it was, so the entry never runs
    ahead of the row's stored times."""
    expiry = time.monotonic() + ENTRY_SECONDS
    with _lock:
        if len(_pairs) > MAX_ENTRIES:
            _pairs.clear()
        for key, (first, last) in pairs.items():
            entry = _pairs.get(key)
            if entry is not None and entry[0] >= time.monotonic():
                first, last = min(first, entry[1]), max(last, entry[2])
            _pairs[key] = (expiry, first, last)


def forget() -> None:
    """Start over (tests; a database rebuilt under a running process)."""
    with _lock:
        _pairs.clear()
