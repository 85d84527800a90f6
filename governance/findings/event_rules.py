"""Clearing the "called" findings the ingest path raises (inventory/services/derive_event_rules.py).

A finding about calls of a blocked client, or to a blocked or registry-deleted server, clears
when its object is no longer blocked (listed again), is gone, or was not called for the rule's
`quiet_hours` (its last refresh is its last call, to the minute). Run by the scheduled rules
(governance/findings/rules.py); each kind is one UPDATE per reason, so the history note says
which reason cleared it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection

from inventory.services.derive_event_rules import BLOCKED_CLIENT, BLOCKED_SERVER, DELETED_SERVER
from inventory.services.flags import acting_as
from inventory.services.rule_settings import effective_rule

# kind: (the object's table, the condition under which it still holds, what its end means)
_STILL_HOLDS = {
    BLOCKED_CLIENT: ("inventory_client", "o.review_status = 'blocked'", "no longer blocked"),
    BLOCKED_SERVER: ("inventory_server", "o.review_status = 'blocked'", "no longer blocked"),
    DELETED_SERVER: ("inventory_server", "o.registry_status = 'deleted'", "listed again"),
}

_RESOLVE = """
UPDATE inventory_finding f SET status = 'resolved', resolution = 'cleared', resolved_at = %s,
       resolved_by = 'rule'
WHERE f.kind = %s AND f.resolved_at IS NULL AND {condition}
"""


def rule_thresholds(kind: str) -> dict:
    """The rule's thresholds by name, with the Admin's overrides (the rules page)."""
    return effective_rule(kind).thresholds


def clear_quiet_event_findings(now: datetime) -> dict[str, int]:
    """Resolve the open "called" findings that no longer hold or were quiet for the rule's
    quiet_hours; returns how many were resolved, by kind."""
    cleared = {}
    for kind, (table, holds, ended) in _STILL_HOLDS.items():
        hours = rule_thresholds(kind)["quiet_hours"]
        gone = f"NOT EXISTS (SELECT 1 FROM {table} o WHERE o.id::text = f.object_id AND {holds})"
        quiet = "f.last_raised_at < %s"
        count = _resolve(kind, now, gone, [], note=f"The {_noun(table)} is {ended} (or gone).")
        count += _resolve(
            kind, now, quiet, [now - timedelta(hours=hours)], note=f"No call for {hours} h."
        )
        cleared[kind] = count
    return cleared


def _noun(table: str) -> str:
    return table.removeprefix("inventory_")


def _resolve(kind: str, now: datetime, condition: str, params: list, *, note: str) -> int:
    with acting_as("rule", note=note), connection.cursor() as cursor:
        cursor.execute(_RESOLVE.format(condition=condition), [now, kind, *params])
        return cursor.rowcount
