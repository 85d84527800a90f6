"""Spikes of errors and denials (`activity.error_spike`, issue 14 §2), from the hourly rollups.

A client or a server spikes when its errors and denials in the last full hour exceed its own
hourly baseline (the mean per hour over the `baseline_days` before that hour, all sources
together) times `factor`, and are at least `minimum` (a quiet server's 3 errors after a
baseline of 0.1 are no spike). Servers are read from audit's ServerRollupHourly, clients from
ClientRollupHourly (both maintained at ingest). One open finding per client or server: a later
hour still spiking refreshes it (once per hour, however often the schedule runs), an hour back
under the threshold resolves it. Run by the scheduled rules (governance/findings/rules.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection

from governance.findings.event_rules import rule_thresholds
from inventory.services.flags import acting_as
from inventory.services.rule_settings import effective_rule

KIND = "activity.error_spike"

# Per object: errors and denials in the hour, all events in it, errors in the baseline window.
_MEASURED = """
WITH hourly AS (
    SELECT 'inventory.server' AS object_type, server_name AS name, hour, events,
           CASE WHEN outcome IN ('error', 'denied') THEN events ELSE 0 END AS errors
    FROM audit_serverrolluphourly WHERE hour >= %(since)s AND hour <= %(hour)s
    UNION ALL
    SELECT 'inventory.client', client_ref, hour, events, errors
    FROM audit_clientrolluphourly WHERE hour >= %(since)s AND hour <= %(hour)s),
measured AS (
    SELECT object_type, name,
           coalesce(sum(errors) FILTER (WHERE hour = %(hour)s), 0) AS errors,
           coalesce(sum(events) FILTER (WHERE hour = %(hour)s), 0) AS events,
           coalesce(sum(errors) FILTER (WHERE hour < %(hour)s), 0)::float
               / %(baseline_hours)s AS baseline
    FROM hourly GROUP BY object_type, name),
spiking AS (
    SELECT m.*, o.id AS object_id, o.repr
    FROM measured m
    JOIN (SELECT 'inventory.server' AS object_type, id, name AS key, name AS repr
          FROM inventory_server
          UNION ALL
          SELECT 'inventory.client', id, client_id, coalesce(nullif(name, ''), client_id)
          FROM inventory_client) o ON o.object_type = m.object_type AND o.key = m.name
    WHERE m.errors >= %(minimum)s AND m.errors > m.baseline * %(factor)s)
"""

_RAISE = (
    _MEASURED
    + """
INSERT INTO inventory_finding (kind, severity, object_type, object_id, object_repr, dedup_key,
    summary, details, raised_at, last_raised_at, times_raised, resolved_at, resolved_by)
SELECT %(kind)s, %(severity)s, object_type, object_id::text, left(repr, 500), '',
       left(repr || ': ' || errors || ' errors and denials in the hour from '
            || to_char(%(hour)s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC, against '
            || round(baseline::numeric, 1) || ' an hour usually', 500),
       jsonb_build_object('hour', %(hour)s, 'errors', errors, 'events', events,
                          'baseline', round(baseline::numeric, 2), 'factor', %(factor)s,
                          'minimum', %(minimum)s, 'baseline_days', %(baseline_days)s),
       %(now)s, %(now)s, 1, NULL, ''
FROM spiking ORDER BY object_type, object_id
ON CONFLICT (kind, object_type, object_id, dedup_key) WHERE resolved_at IS NULL DO UPDATE SET
    last_raised_at = EXCLUDED.last_raised_at,
    times_raised = inventory_finding.times_raised + 1,
    summary = EXCLUDED.summary,
    details = EXCLUDED.details,
    severity = EXCLUDED.severity
WHERE inventory_finding.details->>'hour' IS DISTINCT FROM EXCLUDED.details->>'hour'
"""
)

_RESOLVE = (
    _MEASURED
    + """
UPDATE inventory_finding f SET status = 'resolved', resolution = 'cleared', resolved_at = %(now)s,
       resolved_by = 'rule'
WHERE f.kind = %(kind)s AND f.resolved_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM spiking s WHERE s.object_type = f.object_type
                                            AND s.object_id::text = f.object_id)
"""
)


def raise_error_spikes(now: datetime) -> dict[str, int]:
    """Raise (or refresh) a finding for every client and server spiking in the last full hour
    before `now`, and resolve those that no longer spike. Returns how many of each."""
    thresholds = rule_thresholds(KIND)
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    days = int(thresholds["baseline_days"])
    params = {
        "kind": KIND,
        "severity": effective_rule(KIND).severity,
        "now": now,
        "hour": hour,
        "since": hour - timedelta(days=days),
        "baseline_hours": days * 24,
        "baseline_days": days,
        "factor": float(thresholds["factor"]),
        "minimum": int(thresholds["minimum"]),
    }
    with acting_as("rule", note="An hour back under the spike threshold."):
        with connection.cursor() as cursor:
            cursor.execute(_RESOLVE, params)
            resolved = cursor.rowcount
    with acting_as("rule"), connection.cursor() as cursor:
        cursor.execute(_RAISE, params)
        return {"raised": cursor.rowcount, "resolved": resolved}
