"""The delivery engine for findings (issue 14 §4): outbox → groups → messages → the wire.

One `dispatch()` (the Celery beat runs it every ALERTS_DISPATCH_INTERVAL_SECONDS) does three
steps, each safe to run twice and in any number of workers at once:

1. `route_notices`: the `FindingNotice` outbox rows (written by the findings trigger in the same
   transaction as the change) are matched against every enabled destination's filter and the
   finding joins the destination's `AlertGroup` for its group key (Alertmanager's group_by).
2. `flush_groups`: a group whose group_wait (new) or group_interval (sent before) has passed
   becomes ONE `Delivery` row naming its findings with a count, so a storm is one message; a group
   whose findings are still open is sent again after repeat_interval.
3. `send_due` (governance/alerts/sending.py): claims due deliveries and sends them, at least once,
   under their idempotency key, with backoff and a dead-letter list.

Alertmanager's semantics, adapted (../docs/alerts.md): a finding that opens and resolves
before its group's first message is never sent; a refresh of an open finding (seen again) is no
notice at all, so it is never a new alert; acknowledged or suppressed findings are not sent.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from governance.alerts import formats
from governance.alerts.models import AlertGroup, Delivery, Destination

# The pages replay and list dead letters through this module (the engine's one entry point).
from governance.alerts.sending import dead_letters, replay, send_due
from governance.alerts.transports import deliver
from inventory.models import SEVERITY_RANK, Finding
from inventory.services.rule_settings import all_effective_rules

__all__ = [
    "dead_letters",
    "dispatch",
    "flush_groups",
    "replay",
    "route_notices",
    "send_due",
]

# Notices routed per transaction: bounds the lock time; a storm takes a few rounds of one run.
ROUTE_BATCH = 2000
# Findings a message lists one by one; the rest are "and K more" (the count is always exact).
MAX_LISTED = 20
# Routed notices are kept this long (then pruned by the dispatch, hourly).
NOTICE_KEEP_DAYS = 7
PRUNE_EVERY_SECONDS = 3600
# pg_try_advisory_lock key: "alerts" in ASCII, so overlapping beats run one dispatch at a time.
DISPATCH_LOCK = 0x616C65727473

UNROUTED_SQL = """
SELECT n.id, n.reason, n.at, f.id, f.kind, f.severity, f.object_type, f.object_id, f.status,
       f.suppressed_until
FROM inventory_findingnotice n JOIN inventory_finding f ON f.id = n.finding_id
WHERE n.routed_at IS NULL
ORDER BY n.id LIMIT %s
FOR UPDATE OF n SKIP LOCKED
"""
# One row per (destination, group key, finding); grouped here so a group is upserted once.
JOIN_GROUPS_SQL = """
INSERT INTO governance_alertgroup (destination_id, group_key, labels, pending_finding_ids,
                                   pending_count, first_pending_at, notified_ids)
SELECT v.destination_id, v.group_key, min(v.labels)::jsonb, array_agg(DISTINCT v.finding_id),
       count(DISTINCT v.finding_id), min(v.at), '{}'
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::timestamptz[])
     AS v(destination_id, group_key, labels, finding_id, at)
GROUP BY v.destination_id, v.group_key
ORDER BY v.destination_id, v.group_key
ON CONFLICT (destination_id, group_key) DO UPDATE SET
    pending_finding_ids = ARRAY(
        SELECT DISTINCT x FROM unnest(governance_alertgroup.pending_finding_ids
                                      || EXCLUDED.pending_finding_ids) x ORDER BY x),
    pending_count = (SELECT count(DISTINCT x) FROM unnest(governance_alertgroup.pending_finding_ids
                                                          || EXCLUDED.pending_finding_ids) x),
    first_pending_at = coalesce(governance_alertgroup.first_pending_at, EXCLUDED.first_pending_at)
"""
# A new group (or one quiet for a group_interval) waits group_wait from its first finding; a group
# sent recently also waits out the group_interval since that message. A disabled destination's
# groups keep their pending findings until it is enabled again.
DUE_SQL = """
SELECT g.id FROM governance_alertgroup g JOIN governance_destination d ON d.id = g.destination_id
WHERE g.first_pending_at IS NOT NULL AND d.enabled AND d.send_findings
  AND g.first_pending_at + d.group_wait_seconds * interval '1 second' <= %(now)s
  AND (g.last_sent_at IS NULL
       OR g.last_sent_at + d.group_interval_seconds * interval '1 second' <= %(now)s)
UNION ALL
SELECT g.id FROM governance_alertgroup g JOIN governance_destination d ON d.id = g.destination_id
WHERE g.first_pending_at IS NULL AND cardinality(g.notified_ids) > 0 AND d.enabled
  AND d.send_findings
  AND g.last_sent_at + d.repeat_interval_seconds * interval '1 second' <= %(now)s
ORDER BY 1 LIMIT %(limit)s
"""


def group_labels(
    destination: Destination,
    kind: str,
    severity: str,
    object_type: str,
    object_id: str,
    finding_id: int,
) -> dict:
    """The labels that make the group key under the destination's group_by."""
    by = destination.group_by
    if by == Destination.GroupBy.KIND_SEVERITY:
        return {"kind": kind, "severity": severity}
    if by == Destination.GroupBy.OBJECT:
        return {"object_type": object_type, "object_id": object_id}
    if by == Destination.GroupBy.NONE:
        return {"finding_id": finding_id}
    return {"kind": kind}


def group_key(labels: dict) -> str:
    return "|".join(f"{name}={labels[name]}" for name in sorted(labels))[:400]


def matches(destination: Destination, reason: str, kind: str, severity: str) -> bool:
    """Does the destination's filter take this notice?"""
    if not (destination.enabled and destination.send_findings):
        return False
    if reason == "resolved" and not destination.send_resolved:
        return False
    if SEVERITY_RANK.get(severity, 0) < SEVERITY_RANK.get(destination.min_severity, 0):
        return False
    return not destination.kinds or kind in destination.kinds


def _muted(status: str, suppressed_until: datetime | None, now: datetime) -> bool:
    """Acknowledged, or suppressed and not yet past its end: a person has it in hand."""
    if status == Finding.Status.ACKNOWLEDGED:
        return True
    return status == Finding.Status.SUPPRESSED and (
        suppressed_until is None or suppressed_until > now
    )


def route_notices(*, limit: int = ROUTE_BATCH) -> int:
    """Route one batch of unrouted notices into their destinations' groups; returns how many."""
    destinations = list(Destination.objects.filter(enabled=True, send_findings=True))
    # A rule the Admin turned off is not sent: the ingest path's statements keep raising its
    # findings until the next rule run resolves them, and muting a noisy rule must be at once.
    disabled = {kind for kind, rule in all_effective_rules().items() if not rule.enabled}
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(UNROUTED_SQL, [limit])
        notices = cursor.fetchall()
        if not notices:
            return 0
        rows = defaultdict(list)
        for _nid, reason, at, fid, kind, severity, otype, oid, status, until in notices:
            # Nothing of a rule turned off goes out, its resolutions included: while it still
            # matches, ingest reopens and the rule run resolves its findings every run.
            if kind in disabled or (reason != "resolved" and _muted(status, until, now)):
                continue
            for destination in destinations:
                if not matches(destination, reason, kind, severity):
                    continue
                labels = group_labels(destination, kind, severity, otype, oid, fid)
                for column, value in zip(
                    ("dest", "key", "labels", "fid", "at"),
                    (destination.pk, group_key(labels), json.dumps(labels), fid, at),
                    strict=True,
                ):
                    rows[column].append(value)
        if rows:
            cursor.execute(
                JOIN_GROUPS_SQL,
                [rows["dest"], rows["key"], rows["labels"], rows["fid"], rows["at"]],
            )
        cursor.execute(
            "UPDATE inventory_findingnotice SET routed_at = now() WHERE id = ANY(%s)",
            [[n[0] for n in notices]],
        )
    return len(notices)


def build_payload(group: AlertGroup, event_type: str, findings: list[Finding]) -> dict:
    """What one message says (formats.findings_body: {type, timestamp, data}): the group's
    labels, the exact count, the MAX_LISTED most severe findings and how many more."""
    ordered = sorted(findings, key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), f.pk))
    firing = sum(f.status != Finding.Status.RESOLVED for f in ordered)
    body = formats.findings_body(
        event_type,
        [formats.finding_document(f) for f in ordered[:MAX_LISTED]],
        labels=group.labels,
        count=len(ordered),
    )
    body["data"].update(
        group_key=group.group_key,
        destination=group.destination.name,
        firing=firing,
        resolved=len(ordered) - firing,
        severity=max((f.severity for f in ordered), key=SEVERITY_RANK.get),
        more=max(0, len(ordered) - MAX_LISTED),
    )
    return body


def _message_for(group: AlertGroup, now: datetime) -> tuple[str, list[Finding], list[int]]:
    """(event type, findings to send, notified ids after) for a due group; no findings: skip."""
    if group.first_pending_at is None:  # a repeat: what was notified and still needs attention
        still = list(Finding.objects.filter(pk__in=group.notified_ids).needs_attention())
        return "findings.repeat", still, [f.pk for f in still]
    pending = Finding.objects.filter(pk__in=group.pending_finding_ids)
    notified = set(group.notified_ids)
    send = []
    for finding in pending:
        if finding.status == Finding.Status.RESOLVED:
            if finding.pk in notified:  # never told it opened: it is never told it resolved
                send.append(finding)
        elif not _muted(finding.status, finding.suppressed_until, now):
            send.append(finding)
    resolved = {f.pk for f in send if f.status == Finding.Status.RESOLVED}
    after = (notified | {f.pk for f in send}) - resolved
    opened = any(f.status != Finding.Status.RESOLVED for f in send)
    return ("findings.opened" if opened else "findings.resolved"), send, sorted(after)


def _flush_one(group: AlertGroup, now: datetime) -> Delivery | None:
    event_type, findings, notified_after = _message_for(group, now)
    delivery = None
    if findings:
        delivery = Delivery.objects.create(
            destination=group.destination,
            group=group,
            purpose=Delivery.Purpose.FINDINGS,
            idempotency_key=f"msg_{uuid.uuid4().hex}",
            payload=build_payload(group, event_type, findings),
            finding_ids=sorted(f.pk for f in findings),
            next_attempt_at=now,
        )
        group.last_sent_at = now
    group.pending_finding_ids, group.pending_count, group.first_pending_at = [], 0, None
    group.notified_ids = notified_after
    group.save(
        update_fields=[
            "pending_finding_ids",
            "pending_count",
            "first_pending_at",
            "notified_ids",
            "last_sent_at",
        ]
    )
    return delivery


def flush_groups(now: datetime | None = None, *, limit: int = 500) -> int:
    """Turn each due group into one Delivery; returns how many deliveries were made."""
    now = now or timezone.now()
    made = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(DUE_SQL, {"now": now, "limit": limit})
        ids = [row[0] for row in cursor.fetchall()]
        # Locked, skipping a group another dispatch holds: it flushes that one.
        groups = (
            AlertGroup.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("destination")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        for group in groups:
            made += _flush_one(group, now) is not None
    return made


def next_flush_at() -> datetime | None:
    """When the earliest pending group becomes due (None: nothing pending)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT min(greatest(
                g.first_pending_at + d.group_wait_seconds * interval '1 second',
                coalesce(g.last_sent_at + d.group_interval_seconds * interval '1 second',
                         '-infinity')))
            FROM governance_alertgroup g JOIN governance_destination d ON d.id = g.destination_id
            WHERE g.first_pending_at IS NOT NULL
            """
        )
        return cursor.fetchone()[0]


@contextlib.contextmanager
def _advisory_lock(key: int):
    """A session advisory lock taken without waiting (yields False when another holds it); a
    killed worker's connection closes, which releases it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        taken = cursor.fetchone()[0]
    try:
        yield taken
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def prune_notices(*, keep_days: int = NOTICE_KEEP_DAYS, limit: int = 10_000) -> int:
    """Delete notices routed more than `keep_days` ago, oldest first, at most `limit`: the
    outbox's history is in FindingChange; this keeps the table the size of its recent traffic.
    The oldest ids come first in the primary key, so the scan stops at the first young one."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM inventory_findingnotice WHERE id IN (
                SELECT id FROM inventory_findingnotice
                WHERE routed_at < now() - %s * interval '1 day' ORDER BY id LIMIT %s)
            """,
            [keep_days, limit],
        )
        return cursor.rowcount


_last_prune = 0.0


def _prune_now_and_then() -> None:
    """At most once per PRUNE_EVERY_SECONDS per process."""
    global _last_prune
    if time.monotonic() - _last_prune >= PRUNE_EVERY_SECONDS:
        _last_prune = time.monotonic()
        prune_notices()


def dispatch(*, transport=deliver) -> dict:
    """Route, flush, send: one round of the engine. A second dispatch running meanwhile returns
    at once ({"skipped": True})."""
    with _advisory_lock(DISPATCH_LOCK) as taken:
        if not taken:
            return {"skipped": True}
        routed = 0
        while (batch := route_notices()) > 0:
            routed += batch
            if batch < ROUTE_BATCH:
                break
        flushed = flush_groups()
        sent = send_due(transport=transport)
        _prune_now_and_then()
        return {"routed": routed, "flushed": flushed, **sent}


def seconds_until_next_flush(now: datetime | None = None) -> float | None:
    """For the task: a group due before the next beat gets a run of its own at its time."""
    due = next_flush_at()
    if due is None:
        return None
    return max(0.0, (due - (now or timezone.now())) / timedelta(seconds=1))
