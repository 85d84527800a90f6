"""Group commit: concurrent small batches of one web process share one database call and commit.

A one-event request costs the database ~1 ms of CPU (one call of `pg_temp.audit_ingest`, its
statements and a durable commit) however few events it carries. With threaded web workers,
requests that arrive while a call is running queue here; when it returns, one of them (the
leader) takes the whole queue, merges it per source into one batch and makes one call for it;
each request is answered after that shared durable commit, with its own accepted/duplicate
counts. Nobody waits for a timer: a lone request is stored at once, and the busier the
endpoint, the larger the groups (the same leader/follower scheme as PostgreSQL's own WAL group
commit). The merged batch is one link of the integrity chain.

Up to AUDIT_GROUP_COMMIT_FLUSHERS groups of a process are stored at the same time (each on its
own thread's connection), the second and further ones only while groups are small. With one
flusher, a request that arrives during a call waits for that call and then its own, which at
low concurrency costs more in latency than grouping saves (4 clients: ~740 -> ~860 one-event
requests/s with two); at high concurrency a second flusher halves the groups and costs more
than it saves (32 clients: ~1,570 with two always, ~1,600-1,700 with one or adaptive).

Only small batches come here (ingest.py decides); task status reports travel with their rows.
A flush that fails raises in every request of the group, so none of them is acknowledged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from django.conf import settings

from audit.services import seal


@dataclass(eq=False)
class _Request:
    source_id: int
    rows: list
    reports: list
    wake: threading.Event = field(default_factory=threading.Event)
    promoted: bool = False  # holds a flusher slot: must lead once, or pass the slot on
    finished: bool = False
    accepted: int = 0
    error: BaseException | None = None


_lock = threading.Lock()
_queue: list[_Request] = []
_flushing = 0  # flusher slots in use (groups being stored or about to be)
_last_group = 0  # requests in the last group stored
# A second (or further) flusher starts only while groups are this small: at low concurrency it
# saves a request from waiting out another's commit; at high concurrency one flusher makes
# larger groups, which cost less per request.
SMALL_GROUP = 2


def submit(source_id: int, rows: list, reports: list, store) -> int:
    """Store `rows` (stage rows of one request, already validated and unique, with their task
    status reports) within a group; returns how many were new. `store(source_id, rows,
    want_fresh, reports)` makes the database call and returns (accepted, batch id, stored
    ordinals or None)."""
    global _flushing
    request = _Request(source_id, rows, reports)
    with _lock:
        _queue.append(request)
        if _flushing == 0 or (
            _flushing < settings.AUDIT_GROUP_COMMIT_FLUSHERS and _last_group <= SMALL_GROUP
        ):
            _flushing += 1
            request.promoted = True
    while True:
        if request.promoted:
            with _lock:
                request.promoted = False
                if request.finished:  # another group took this request: hand the slot on
                    _pass_slot()
                    continue
            _lead(store)
            continue
        if request.finished:
            break
        request.wake.wait()
        request.wake.clear()
    if request.error is not None:
        raise request.error
    return request.accepted


def _pass_slot() -> None:
    """(Under _lock.) Give a finished flusher's slot to the oldest queued request, or free it."""
    global _flushing
    for waiting in _queue:
        if not waiting.promoted:
            waiting.promoted = True
            waiting.wake.set()
            return
    _flushing -= 1


def _lead(store) -> None:
    """Store everything queued now as one group, then pass the slot on. Each slot leads once
    per promotion, so a leader whose own request went with another group cannot keep taking
    one-request groups."""
    global _last_group
    with _lock:
        group = _queue[:]
        _queue.clear()
        if group:
            _last_group = len(group)
    stored_any = False
    try:
        if group:
            stored_any = _flush(group, store)
    finally:
        with _lock:
            for request in group:
                request.finished = True
            _pass_slot()
        for request in group:
            request.wake.set()
    if stored_any:  # after answering the others: only the leader waits for the chain head lock
        seal.seal_after_ingest()


def _flush(group: list[_Request], store) -> bool:
    """Store the group, one call per source; True when anything new was stored."""
    by_source: dict[int, list[_Request]] = {}
    for request in group:
        by_source.setdefault(request.source_id, []).append(request)
    stored_any = False
    for source_id, requests in by_source.items():
        try:
            stored_any |= _flush_source(source_id, requests, store)
        except Exception as exc:  # noqa: BLE001 - handed to every request of this source
            for request in requests:
                request.error = exc
    return stored_any


def _flush_source(source_id: int, requests: list[_Request], store) -> bool:
    """One call for the merged rows of one source; the same event id sent by two requests of
    the group is stored once (the first), the other counts it as a duplicate."""
    if len(requests) == 1:
        accepted, _, _ = store(source_id, requests[0].rows, False, requests[0].reports)
        requests[0].accepted = accepted
        return accepted > 0
    merged, owner, reports, seen = [], [], [], set()
    for index, request in enumerate(requests):
        renumbered = {}
        for row in request.rows:
            if row[1] in seen:
                continue
            seen.add(row[1])
            owner.append(index)
            renumbered[row[0]] = len(merged)
            merged.append((len(merged), *row[1:]))
        reports += [
            {**report, "ordinal": renumbered[report["ordinal"]]}
            for report in request.reports
            if report["ordinal"] in renumbered
        ]
    accepted, _, fresh = store(source_id, merged, True, reports)
    counts = [0] * len(requests)
    for ordinal in fresh or ():
        counts[owner[ordinal]] += 1
    for request, count in zip(requests, counts):
        request.accepted = count
    return accepted > 0
