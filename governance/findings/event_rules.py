"""The scheduled half of the rules the ingest path raises (derive_event_rules.py in inventory).

The ingest statements are fixed SQL that know nothing of the Admin's rule settings (reading
them per batch would cost every batch for a setting that changes once a month). A scheduled
run (governance/findings/rules.py, also started when an Admin saves a rule) makes the findings
obey them:
- a rule turned off: its open findings are resolved ("rule disabled"); what ingest raises
  meanwhile is resolved again by the next run;
- the effective severity: open findings of another severity take it (the history says so);
- what clears: a "called" finding (blocked client, blocked or registry-deleted server) when
  its object is no longer blocked (listed again), is gone, or was not called for the rule's
  `quiet_hours`; a tool-name finding when the tool is gone or was not called by that name for
  its `quiet_hours` (ingest refreshes an open finding at most once a minute, so its last
  refresh is its last call, to the minute). `tool.first_called` is resolved by a person.
Each clearing is one UPDATE per reason, so the history note says which reason cleared it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection

from inventory.finding_rules_discovery import DISCOVERY_RULES
from inventory.services.derive_event_rules import (
    BLOCKED_CLIENT,
    BLOCKED_SERVER,
    DELETED_SERVER,
    FIRST_CALLED,
    NAME_VIOLATION,
)
from inventory.services.finding_reconcile import resolve_all
from inventory.services.flags import acting_as
from inventory.services.rule_settings import effective_rule

# The rules whose settings a scheduled run enforces here: the ingest path's SQL statements raise
# without reading them; the others (task transitions, the CIMD and discovery kinds) go through
# raise_flag, which obeys a rule turned off as it raises, and this run resolves what was open
# before the rule was turned off and applies a changed severity to open findings.
ENFORCED_KINDS = (
    BLOCKED_CLIENT,
    BLOCKED_SERVER,
    DELETED_SERVER,
    NAME_VIOLATION,
    FIRST_CALLED,
    "access.used_after_revocation",
    "task.illegal_transition",
    "cimd.redirect_uri_added",
    *(rule.kind for rule in DISCOVERY_RULES),
)

# The discovery kinds whose raisers grade each finding themselves.
_GRADED_BY_RAISER = frozenset(rule.kind for rule in DISCOVERY_RULES)

# kind: (the object's table, the condition under which it still holds, what its end means)
_STILL_HOLDS = {
    BLOCKED_CLIENT: ("inventory_client", "o.review_status = 'blocked'", "is no longer blocked"),
    BLOCKED_SERVER: ("inventory_server", "o.review_status = 'blocked'", "is no longer blocked"),
    DELETED_SERVER: ("inventory_server", "o.registry_status = 'deleted'", "is listed again"),
    NAME_VIOLATION: ("inventory_tool", "true", "exists no more"),
}

_RESOLVE = """
UPDATE inventory_finding f SET status = 'resolved', resolution = 'cleared', resolved_at = %s,
       resolved_by = 'rule'
WHERE f.kind = %s AND f.resolved_at IS NULL AND {condition}
"""

_SET_SEVERITY = """
UPDATE inventory_finding SET severity = %s
WHERE kind = %s AND resolved_at IS NULL AND severity <> %s
"""


def rule_thresholds(kind: str) -> dict:
    """The rule's thresholds by name, with the Admin's overrides (the rules page)."""
    return effective_rule(kind).thresholds


def enforce_ingest_rule(kind: str, now: datetime) -> dict[str, int]:
    """Make `kind`'s open findings obey the rule's settings and resolve those that cleared:
    {"raised": 0, "resolved", "severity_set"} (raising is the ingest path's)."""
    rule = effective_rule(kind)
    if not rule.enabled:
        return resolve_all(kind, why="rule disabled", now=now)
    if kind in _GRADED_BY_RAISER and rule.severity == rule.rule.severity:
        # Its raiser grades each finding itself (a fetch failure is high only once the document
        # was fetched before): the catalogue's severity is the highest, not one to impose.
        resolved = _clear(kind, now, rule.thresholds) if kind in _STILL_HOLDS else 0
        return {"raised": 0, "resolved": resolved, "severity_set": 0}
    with acting_as("rule", note=f"severity set by the rule's settings ({rule.severity})"):
        with connection.cursor() as cursor:
            cursor.execute(_SET_SEVERITY, [rule.severity, kind, rule.severity])
            severity_set = cursor.rowcount
    resolved = _clear(kind, now, rule.thresholds) if kind in _STILL_HOLDS else 0
    return {"raised": 0, "resolved": resolved, "severity_set": severity_set}


def clear_quiet_event_findings(now: datetime) -> dict[str, int]:
    """Resolve the open findings of the ingest rules that can clear and no longer hold or were
    quiet for their quiet_hours (a disabled rule's findings are left to enforce_ingest_rule);
    returns how many were resolved, by kind."""
    return {
        kind: _clear(kind, now, rule.thresholds)
        for kind in _STILL_HOLDS
        if (rule := effective_rule(kind)).enabled
    }


def _clear(kind: str, now: datetime, thresholds: dict) -> int:
    table, holds, ended = _STILL_HOLDS[kind]
    hours = thresholds["quiet_hours"]
    gone = f"NOT EXISTS (SELECT 1 FROM {table} o WHERE o.id::text = f.object_id AND {holds})"
    noun = table.removeprefix("inventory_")
    count = _resolve(kind, now, gone, [], note=f"The {noun} {ended} (or is gone).")
    quiet = "f.last_raised_at < %s"
    return count + _resolve(
        kind, now, quiet, [now - timedelta(hours=hours)], note=f"No call for {hours} h."
    )


def _resolve(kind: str, now: datetime, condition: str, params: list, *, note: str) -> int:
    with acting_as("rule", note=note), connection.cursor() as cursor:
        cursor.execute(_RESOLVE.format(condition=condition), [now, kind, *params])
        return cursor.rowcount
