"""Verifying the tamper-evidence chain: recompute every batch's digest from the stored rows.

Each batch stores content_hash = sha256 of its events' canonical rows (audit/services/canon.py,
in id order); sealing (audit/services/seal.py) adds digest =
sha256("prev:seq:batch:source:count:content_hash"). A row modified, deleted
or inserted behind the app's back changes a batch's recomputed count or hash; a batch row
removed or edited breaks the digest links. The first broken link is named.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import ChainHead, ChainVerification, EventBatch
from audit.services.canon import PIN_SETTINGS, canon_sql

GENESIS = "0" * 64
CHUNK = 500

CONTENT_SQL = f"""
SELECT batch_id, count(*),
       encode(sha256(convert_to(string_agg({canon_sql("e")}, E'\\n' ORDER BY id), 'UTF8')), 'hex')
FROM audit_event e WHERE batch_id = ANY(%s) GROUP BY batch_id
"""
ORPHANS_SQL = """
SELECT e.batch_id, e.event_id FROM audit_event e
WHERE (%s::timestamptz IS NULL OR e.received_at >= %s::timestamptz)
  AND NOT EXISTS (SELECT 1 FROM audit_eventbatch b WHERE b.id = e.batch_id)
ORDER BY e.batch_id, e.id LIMIT 1
"""


def link_digest(
    prev: str, seq: int, batch_id: int, source_id: int, count: int, content: str
) -> str:
    """The chain formula (seal.seal_pending links batches with it; verification recomputes it)."""
    return hashlib.sha256(
        f"{prev}:{seq}:{batch_id}:{source_id}:{count}:{content}".encode()
    ).hexdigest()


def _content(batch_ids: list[int]) -> dict[int, tuple[int, str]]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(PIN_SETTINGS)  # transaction-local, as in the ingest
        cursor.execute(CONTENT_SQL, [batch_ids])
        return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}


def _check_content(batch: EventBatch, found) -> str:
    """Do the stored rows still hash to what the ingest recorded?"""
    count, content = found or (0, "")
    if count < batch.event_count:
        return (
            f"{batch.event_count - count} event(s) deleted (stored {count} of {batch.event_count})"
        )
    if count > batch.event_count:
        inserted = count - batch.event_count
        return f"{inserted} event(s) inserted (stored {count}, sealed {batch.event_count})"
    if content != batch.content_hash:
        return "event(s) modified (content hash differs)"
    return ""


def _check_batch(batch: EventBatch, prev: str, prev_seq: int | None, found) -> str:
    """What is wrong with this sealed batch, or ''."""
    if prev_seq is not None and batch.seq != prev_seq + 1:
        return f"batch #{prev_seq + 1} to #{batch.seq - 1} deleted (chain jumps from #{prev_seq})"
    if batch.prev_digest != prev:
        return "previous-digest link does not match the previous batch's digest"
    expected = link_digest(
        prev, batch.seq, batch.pk, batch.source_id, batch.event_count, batch.content_hash
    )
    if expected != batch.digest:
        return "batch record altered (its digest does not match its contents)"
    return _check_content(batch, found)


def _walk(batches, prev: str, prev_seq) -> tuple[int, int, EventBatch | None, str, str, int]:
    checked = events = 0
    for start in range(0, len(batches), CHUNK):
        chunk = batches[start : start + CHUNK]
        content = _content([b.pk for b in chunk])
        for batch in chunk:
            problem = _check_batch(batch, prev, prev_seq, content.get(batch.pk))
            checked += 1
            if problem:
                return checked, events, batch, problem, prev, prev_seq
            events += batch.event_count
            prev, prev_seq = batch.digest, batch.seq
    return checked, events, None, "", prev, prev_seq


def _pending_problem(pending: list[EventBatch]) -> tuple[EventBatch | None, str]:
    """Batches stored but not sealed yet (sealing follows each commit): contents still checked."""
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start : start + CHUNK]
        content = _content([b.pk for b in chunk])
        for batch in chunk:
            problem = _check_content(batch, content.get(batch.pk))
            if problem:
                return batch, f"{problem} (batch not sealed yet)"
    return None, ""


def verify_chain(*, since: datetime | None = None, triggered_by: str = "") -> ChainVerification:
    """Check every batch received since `since` (all when None) and the chain's links from the
    first of them on; store and return the run.

    The chain head is read first and the walk stops at it: batches sealed while the run goes
    on (sealing follows ingestion all the time) are checked like unsealed ones, by content, and
    do not look like a tail that was cut off."""
    started = timezone.now()
    head = ChainHead.objects.filter(pk=1).first()
    head_seq = head.seq if head else 0
    sealed = EventBatch.objects.filter(seq__lte=head_seq).order_by("seq")
    pending = EventBatch.objects.filter(Q(seq__isnull=True) | Q(seq__gt=head_seq)).order_by("pk")
    anchor = None
    if since is not None:
        # Batches are sealed in commit order, not in the order they were received: the window is
        # the chain from its first batch received at or after `since` on, anchored on the link
        # before it (a window by received time alone could leave gaps that look like deletions).
        first = sealed.filter(received_at__gte=since).values_list("seq", flat=True).first()
        start = head_seq + 1 if first is None else first
        anchor = sealed.filter(seq__lt=start).order_by("-seq").first()
        sealed, pending = sealed.filter(seq__gte=start), pending.filter(received_at__gte=since)
    batches, pending = list(sealed), list(pending)
    prev, prev_seq = (anchor.digest, anchor.seq) if anchor else (GENESIS, 0)
    checked, events, broken, problem, prev, prev_seq = _walk(batches, prev, prev_seq)
    if not broken:
        problem = _tail_problem(head, prev, prev_seq)
    if not problem:
        broken, problem = _pending_problem(pending)
        checked += len(pending)
        events += sum(b.event_count for b in pending)
    if not problem:
        problem = _orphan_problem(since)
    run = ChainVerification.objects.create(
        started_at=started,
        finished_at=timezone.now(),
        since=since,
        ok=not problem,
        batches_checked=checked,
        events_checked=events,
        first_broken_batch=broken.pk if broken else _orphan_batch(problem),
        problem=(
            f"batch {broken.pk} (#{broken.seq or 'unsealed'}): {problem}" if broken else problem
        ),
        triggered_by=triggered_by,
    )
    return run


def _tail_problem(head: ChainHead | None, prev: str, prev_seq) -> str:
    if head is None:
        return "chain head row is missing"
    if prev_seq is not None and (head.seq != prev_seq or head.digest != prev):
        return (
            f"chain head is at #{head.seq} but the last batch found is #{prev_seq}: batches deleted"
        )
    return ""


def _orphan_problem(since) -> str:
    with connection.cursor() as cursor:
        cursor.execute(ORPHANS_SQL, [since, since])
        row = cursor.fetchone()
    if row:
        return f"event {row[1]!r} inserted outside any sealed batch (batch id {row[0]})"
    return ""


def _orphan_batch(problem: str):
    if "outside any sealed batch (batch id " in problem:
        return int(problem.rsplit("batch id ", 1)[1].rstrip(")"))
    return None
