"""Streaming stored audit events to destinations (issue 14 §5), each from its own durable cursor.

The order is the integrity chain's: sealed batches by `seq`, events by id within a batch. A batch
is sealed after its ingest transaction committed (audit/services/seal.py), so no event can
commit behind the cursor, and nothing is skipped. The cursor moves only after the receiver said
yes, by `UPDATE ... WHERE batch_seq = <the position we read>`, so two runs cannot both move it;
a crash between the send and that UPDATE re-sends the same events (their ids let the receiver
drop them) and never skips. One run per destination at a time (an advisory lock); a run stops
after RUN_BUDGET_SECONDS so the beat's next tick picks the backlog up again.

A new destination starts at the chain head when its cursor is made (`start_cursor`, called when
forwarding is switched on, or by the first run): it streams what is stored from then on, not the
whole history; `start_cursor(destination, since=...)` starts from the first batch sealed at or
after a time instead.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from governance.alerts.models import Destination, ForwardCursor
from governance.alerts.transports import DeliveryFailed, forward_events

RUN_BUDGET_SECONDS = 20.0
# Runs of batches read at the same time as the one being sent (memory: about
# (READ_AHEAD + 2) x FORWARD_BATCH_EVENTS events held).
READ_AHEAD = 2
# pg_try_advisory_lock(class, destination id): one forwarder per destination.
FORWARD_LOCK_CLASS = 0x66776400  # "fwd"

BATCHES_SQL = """
SELECT id, seq, event_count FROM audit_eventbatch WHERE seq > %s ORDER BY seq LIMIT %s
"""
# Each row built as JSON text by PostgreSQL and parsed by orjson: no per-column conversion in
# Python, and the payload (a `json` column) passes through as stored. Times are RFC 3339 UTC
# with milliseconds, as the canonical export writes them (governance/alerts/formats.py).
RFC3339 = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
EVENTS_SQL = (
    """
SELECT json_build_object(
    'id', e.id, 'time', """
    + RFC3339.format("e.time")
    + """,
    'received_at', """
    + RFC3339.format("e.received_at")
    + """, 'source_id', e.source_id,
    'batch_id', e.batch_id, 'event_id', e.event_id, 'type', e.type,
    'actor_issuer', e.actor_issuer, 'actor_subject', e.actor_subject,
    'client_ref', e.client_ref, 'server_name', e.server_name, 'method', e.method, 'tool', e.tool,
    'task_id', e.task_id, 'session_id', e.session_id, 'outcome', e.outcome,
    'duration_ms', e.duration_ms, 'redacted', e.redacted, 'payload', e.payload)::text
FROM audit_event e
WHERE e.batch_id = %s AND e.id > %s
ORDER BY e.id
LIMIT %s
"""
)


def start_cursor(destination: Destination, *, since: datetime | None = None) -> ForwardCursor:
    """The destination's cursor, made at the chain head (or before the first batch sealed at or
    after `since`) if it has none; an existing cursor is left where it is."""
    with connection.cursor() as cursor:
        if since is None:
            cursor.execute("SELECT coalesce((SELECT seq FROM audit_chainhead WHERE id = 1), 0)")
        else:
            cursor.execute(
                "SELECT coalesce(min(seq) - 1, (SELECT coalesce(max(seq), 0)"
                " FROM audit_eventbatch)) FROM audit_eventbatch WHERE sealed_at >= %s",
                [since],
            )
        head = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO governance_forwardcursor (destination_id, batch_seq, events_forwarded,"
            " started_at, last_error) VALUES (%s, %s, 0, now(), '')"
            " ON CONFLICT (destination_id) DO NOTHING",
            [destination.pk, head],
        )
    return ForwardCursor.objects.get(destination=destination)


def _next_batches(after_seq: int) -> list[tuple[int, int, int]]:
    """The next sealed batches after `after_seq` holding about FORWARD_BATCH_EVENTS events (at
    least one batch, however large)."""
    limit = settings.FORWARD_BATCH_EVENTS
    with connection.cursor() as cursor:
        cursor.execute(BATCHES_SQL, [after_seq, 1000])
        rows = cursor.fetchall()
    taken, total = [], 0
    for batch_id, seq, count in rows:
        if taken and total + count > limit:
            break
        taken.append((batch_id, seq, count))
        total += count
    return taken


def _read_events(batches: list[tuple[int, int, int]]) -> list[list[dict]]:
    """The batches' events in (seq, id) order, in sends of at most FORWARD_BATCH_EVENTS."""
    limit = settings.FORWARD_BATCH_EVENTS
    sends = []
    for batch_id, _seq, _count in batches:  # a batch at a time: seq order across batches
        after_id = 0
        while True:
            with connection.cursor() as cursor:
                cursor.execute(EVENTS_SQL, [batch_id, after_id, limit])
                rows = [orjson.loads(row[0]) for row in cursor.fetchall()]
            if not rows:
                break
            if sends and len(sends[-1]) + len(rows) <= limit:
                sends[-1].extend(rows)
            else:
                sends.append(rows)
            after_id = rows[-1]["id"]
            if len(rows) < limit:
                break
    return sends


def _advance(destination_id: int, old_seq: int, new_seq: int, events: int) -> bool:
    """Move the cursor from where we read it; False when another run moved it first."""
    return bool(
        ForwardCursor.objects.filter(destination_id=destination_id, batch_seq=old_seq).update(
            batch_seq=new_seq,
            events_forwarded=F("events_forwarded") + events,
            last_forwarded_at=timezone.now(),
            last_error="",
            last_error_at=None,
        )
    )


def _runs(after_seq: int, deadline: float):
    """(batches, cursor move) of each run of batches after `after_seq`, until caught up or the
    deadline; a cursor move is (old seq, new seq, events)."""
    seq = after_seq
    while time.monotonic() < deadline:
        batches = _next_batches(seq)
        if not batches:
            return
        yield batches, (seq, batches[-1][1], sum(b[2] for b in batches))
        seq = batches[-1][1]


def _read_apart(batches) -> list[list[dict]]:
    """_read_events on a reader thread's own connection, closed after."""
    try:
        return _read_events(batches)
    finally:
        connection.close()


def _numbered(sends: list[list[dict]], advance):
    sends = sends or [[]]  # a run whose events retention dropped still moves the cursor
    for number, events in enumerate(sends, start=1):
        yield events, (advance if number == len(sends) else None)


def _sends(after_seq: int, deadline: float):
    """(events, cursor move or None) in order; the move comes with the last send of its run.
    READ_AHEAD runs are read at the same time, each on its own connection (the database does
    most of a read's work); inside a transaction (a caller's, a test's) reads stay on this
    connection, the only one that sees it."""
    if connection.in_atomic_block:
        for batches, advance in _runs(after_seq, deadline):
            yield from _numbered(_read_events(batches), advance)
        return
    with ThreadPoolExecutor(max_workers=READ_AHEAD, thread_name_prefix="read") as readers:
        ahead = deque()
        for batches, advance in _runs(after_seq, deadline):
            ahead.append((readers.submit(_read_apart, batches), advance))
            if len(ahead) > READ_AHEAD:
                future, move = ahead.popleft()
                yield from _numbered(future.result(), move)
        while ahead:
            future, move = ahead.popleft()
            yield from _numbered(future.result(), move)


class _CursorMoved(Exception):
    """Another run moved the cursor first: this one stops."""


def _settle(destination_id: int, send) -> int:
    """Wait for a send; after the receiver's yes, make the cursor move it completes."""
    future, advance = send
    if future is not None:
        future.result()  # DeliveryFailed when the receiver said no
    if advance is None:
        return 0
    if not _advance(destination_id, *advance):
        raise _CursorMoved
    return advance[2]


def _forward_locked(destination: Destination, transport) -> dict:
    """Read the next send from the database while the previous one is on the wire (one send in
    flight, in order); the cursor moves only after the send that completes its batches."""
    seq = start_cursor(destination).batch_seq
    sent, previous = 0, None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="forward") as wire:
        try:
            for events, advance in _sends(seq, time.monotonic() + RUN_BUDGET_SECONDS):
                if previous is not None:
                    sent += _settle(destination.pk, previous)
                future = wire.submit(transport, destination, events) if events else None
                previous = (future, advance)
            if previous is not None:
                sent += _settle(destination.pk, previous)
        except DeliveryFailed as failure:
            ForwardCursor.objects.filter(destination=destination).update(
                last_error=failure.detail[:1000], last_error_at=timezone.now()
            )
            return {"events": sent, "error": failure.detail}
        except _CursorMoved:
            pass
    return {"events": sent}


def forward(destination_id: int, *, transport=forward_events) -> dict:
    """Send the destination's unsent events until caught up (or the run's time budget is spent)."""
    destination = Destination.objects.filter(
        pk=destination_id, enabled=True, forward_events=True
    ).first()
    if destination is None:
        return {"events": 0, "skipped": "not forwarding"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [FORWARD_LOCK_CLASS, destination_id])
        if not cursor.fetchone()[0]:
            return {"events": 0, "skipped": "another run holds it"}
    try:
        return _forward_locked(destination, transport)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, %s)", [FORWARD_LOCK_CLASS, destination_id]
            )


def destinations_to_forward() -> list[int]:
    return list(
        Destination.objects.filter(enabled=True, forward_events=True).values_list("pk", flat=True)
    )


def lag(destination: Destination) -> dict:
    """How far behind the chain head the destination's stream is, for the pages."""
    cursor_row = ForwardCursor.objects.filter(destination=destination).first()
    if cursor_row is None:
        return {
            "events_behind": 0,
            "batches_behind": 0,
            "seconds_behind": 0.0,
            "last_forwarded_at": None,
            "last_error": "",
            "last_error_at": None,
            "started": False,
        }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(sum(event_count), 0), min(sealed_at)"
            " FROM audit_eventbatch WHERE seq > %s",
            [cursor_row.batch_seq],
        )
        batches, events, oldest = cursor.fetchone()
    seconds = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return {
        "events_behind": int(events),
        "batches_behind": int(batches),
        "seconds_behind": max(0.0, seconds),
        "last_forwarded_at": cursor_row.last_forwarded_at,
        "last_error": cursor_row.last_error,
        "last_error_at": cursor_row.last_error_at,
        "started": True,
    }
