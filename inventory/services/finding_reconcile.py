"""Reconciling one rule's findings with what holds now, in a few set-based statements.

A rule says which rows hold its condition (a SELECT, or a few rows computed in Python); this
module makes the findings agree: one INSERT … ON CONFLICT on the one-open-finding index opens
the new ones and refreshes the open ones (last seen, times seen, summary, evidence, severity;
an acknowledged or suppressed finding keeps its status), and one UPDATE resolves the open
findings of the kind that no longer hold (status resolved, resolution "cleared", by "rule").
Each write runs under `acting_as("rule", …)`, so the history the triggers write says why.

The rows go through a temporary table so the rule's query runs once for both statements, and
a rule over 100k grants costs two scans, not a Python loop.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from inventory.services.flags import acting_as

RESOLVED_BY = "rule"
# What a rule's SELECT returns, in this order (severity may be NULL: the rule's own then).
HOLDING_COLUMNS = (
    "object_type text, object_id text, object_repr text, dedup_key text, summary text, "
    "details jsonb, severity text"
)
_NAMES = "object_type, object_id, object_repr, dedup_key, summary, details, severity"

_UPSERT = """
WITH up AS (
    INSERT INTO inventory_finding (kind, severity, object_type, object_id, object_repr,
        dedup_key, summary, details, raised_at, last_raised_at, times_raised, resolved_at,
        resolved_by)
    SELECT DISTINCT ON (object_type, object_id, left(dedup_key, 300))
           %(kind)s, coalesce(severity, %(severity)s), object_type, object_id,
           left(coalesce(object_repr, ''), 500), left(dedup_key, 300), left(summary, 500),
           coalesce(details, '{}'::jsonb), %(now)s, %(now)s, 1, NULL, ''
    FROM finding_holding
    ORDER BY object_type, object_id, left(dedup_key, 300)
    ON CONFLICT (kind, object_type, object_id, dedup_key) WHERE resolved_at IS NULL
    DO UPDATE SET
        last_raised_at = GREATEST(inventory_finding.last_raised_at, EXCLUDED.last_raised_at),
        times_raised = inventory_finding.times_raised + 1,
        object_repr = EXCLUDED.object_repr,
        summary = EXCLUDED.summary,
        details = EXCLUDED.details,
        severity = EXCLUDED.severity
    RETURNING (xmax = 0) AS inserted)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
"""

_CLEAR = """
UPDATE inventory_finding f
SET status = 'resolved', resolved_at = %(now)s, resolved_by = %(by)s, resolution = 'cleared'
WHERE f.kind = %(kind)s AND f.resolved_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM finding_holding h
                  WHERE h.object_type = f.object_type AND h.object_id = f.object_id
                    AND left(h.dedup_key, 300) = f.dedup_key)
"""


def reconcile(
    kind: str,
    *,
    severity: str,
    sql: str = "",
    params: dict | None = None,
    rows: list[dict] | None = None,
    cleared: str,
    clear: bool = True,
    now: datetime | None = None,
) -> dict[str, int]:
    """Make `kind`'s open findings match what holds now: the rows `sql` selects (columns as
    HOLDING_COLUMNS) or `rows` (dicts with those keys), none when both are empty. Findings
    that no longer hold are resolved with the note "condition cleared: `cleared`" unless
    `clear` is false (rules a person resolves). {"raised", "refreshed", "resolved"}."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        _fill_holding(cursor, sql, params or {}, rows)
        with acting_as(RESOLVED_BY):
            cursor.execute(_UPSERT, {"kind": kind, "severity": severity, "now": now})
            raised, refreshed = cursor.fetchone()
        resolved = 0
        if clear:
            with acting_as(RESOLVED_BY, note=f"condition cleared: {cleared}"):
                cursor.execute(_CLEAR, {"kind": kind, "now": now, "by": RESOLVED_BY})
                resolved = cursor.rowcount
        cursor.execute("DROP TABLE finding_holding")
    return {"raised": raised, "refreshed": refreshed, "resolved": resolved}


def resolve_all(kind: str, *, why: str, now: datetime | None = None) -> dict[str, int]:
    """Resolve every open finding of `kind` (a rule turned off): nothing holds any more."""
    return reconcile(kind, severity="info", cleared=why, now=now)


def _fill_holding(cursor, sql: str, params: dict, rows: list[dict] | None) -> None:
    # ON COMMIT DROP and the explicit DROP: a run inside a longer transaction (tests, a rule
    # run calling several rules) must find no table left by the previous rule.
    cursor.execute("DROP TABLE IF EXISTS pg_temp.finding_holding")
    cursor.execute(f"CREATE TEMP TABLE finding_holding ({HOLDING_COLUMNS}) ON COMMIT DROP")
    if sql:
        cursor.execute(f"INSERT INTO finding_holding ({_NAMES}) {sql}", params)
    if rows:
        cursor.execute(
            f"INSERT INTO finding_holding ({_NAMES}) SELECT {_NAMES} "
            f"FROM jsonb_to_recordset(%s::jsonb) AS r({HOLDING_COLUMNS})",
            [json.dumps(rows, default=str)],
        )
    if sql or rows:
        # A fresh temp table has no statistics: without them the anti-join may be planned as
        # a nested loop, which is slow for the large sets (every dormant grant).
        cursor.execute("ANALYZE finding_holding")
