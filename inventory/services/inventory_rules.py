"""The finding rules over inventory state (issue 14 §2): who holds access they should not, grants
nobody uses or that carry too much, tasks that outlive a revocation, new clients with risky
metadata. docs/findings.md says why each matters and what clears it.

Each rule is one SELECT of the rows that hold its condition now, handed to `reconcile`, which
opens, refreshes and resolves findings in a few statements. Each rule obeys the Admin's
settings (`effective_rule`): a rule turned off raises nothing and resolves what it had raised.
An "active grant" is one whose status is active, that its IdP still lists (not vanished) and
whose expiry, if any, is still ahead.

The schedule runs them all (governance/findings/rules.py); the CIMD crawl runs
`client.risky_first_seen` as it finishes, and an IdP sync queues the run as it commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import connection
from django.utils import timezone

from inventory.services.finding_reconcile import reconcile, resolve_all
from inventory.services.flags import TASK_PAST_TTL
from inventory.services.rule_settings import EffectiveRule, effective_rule, scopes_matching
from inventory.services.task_expiry import sweep_tasks_past_ttl

# Grants listed in a finding's evidence: enough to act on, bounded per finding.
MAX_GRANT_IDS = 50

# A grant its IdP no longer lists (vanished) is gone there: no longer access anyone holds.
_ACTIVE_GRANT = (
    "g.status = 'active' AND g.vanished_at IS NULL "
    "AND (g.expires_at IS NULL OR g.expires_at > %(now)s)"
)
_IDENTITY_REPR = "coalesce(nullif(i.display_name, ''), nullif(i.email, ''), i.subject)"
_CLIENT_REPR = "coalesce(nullif(c.name, ''), c.client_id)"
# Grant.__str__ in SQL: "<client> for <subject or itself> (<external id>)".
_GRANT_REPR = (
    f"{_CLIENT_REPR} || ' for ' || coalesce({_IDENTITY_REPR}, 'itself') "
    "|| ' (' || g.external_id || ')'"
)
_GRANT_JOINS = """
    JOIN inventory_client c ON c.id = g.client_id
    LEFT JOIN inventory_identity i ON i.id = g.subject_id"""
_PLURAL = "CASE WHEN count(*) = 1 THEN '' ELSE 's' END"
_GRANT_EVIDENCE = f"""'grant_count', count(*),
    'grant_ids', to_jsonb((array_agg(g.id ORDER BY g.id))[1:{MAX_GRANT_IDS}])"""

IDENTITY_INACTIVE_WITH_GRANTS = f"""
SELECT 'inventory.identity', i.id::text, {_IDENTITY_REPR}, '',
       {_IDENTITY_REPR} || ' is ' || i.status || ' but still holds ' || count(*)
           || ' active grant' || {_PLURAL},
       jsonb_build_object('identity_status', i.status, 'issuer', i.issuer, {_GRANT_EVIDENCE}),
       NULL
FROM inventory_identity i JOIN inventory_grant g ON g.subject_id = i.id
WHERE i.status <> 'active' AND {_ACTIVE_GRANT}
GROUP BY i.id
"""

CLIENT_BLOCKED_WITH_GRANTS = f"""
SELECT 'inventory.client', c.id::text, {_CLIENT_REPR}, '',
       'Blocked client ' || {_CLIENT_REPR} || ' still holds ' || count(*)
           || ' active grant' || {_PLURAL},
       jsonb_build_object('client_id', c.client_id, {_GRANT_EVIDENCE}), NULL
FROM inventory_client c JOIN inventory_grant g ON g.client_id = c.id
WHERE c.review_status = 'blocked' AND {_ACTIVE_GRANT}
GROUP BY c.id
"""

# Idle since its last use, else since it was issued (or first seen): never used counts too.
_IDLE_SINCE = "coalesce(g.last_used_at, g.issued_at, g.first_seen)"
GRANT_DORMANT = f"""
SELECT 'inventory.grant', g.id::text, {_GRANT_REPR}, '',
       'Grant ' || {_GRANT_REPR} || CASE WHEN g.last_used_at IS NULL THEN ' never used'
           ELSE ' unused' END || ' for '
           || floor(extract(epoch FROM %(now)s - {_IDLE_SINCE}) / 86400)::int || ' days',
       jsonb_build_object('grant_ids', jsonb_build_array(g.id), 'last_used_at', g.last_used_at,
                          'issued_at', g.issued_at, 'idle_since', {_IDLE_SINCE},
                          'threshold_days', %(days)s),
       NULL
FROM inventory_grant g {_GRANT_JOINS}
WHERE {_ACTIVE_GRANT} AND {_IDLE_SINCE} < %(now)s - make_interval(days => %(days)s)
"""

# `scopes && %(scopes)s` is answered by the GIN index on scopes; which scopes count was matched
# in Python over the inventory's distinct scopes (rule_settings.scopes_matching).
_SCOPED_GRANTS = f"""
SELECT 'inventory.grant', g.id::text, {_GRANT_REPR}, '',
       {{what}} || array_to_string(m.scopes, ', '),
       jsonb_build_object('grant_ids', jsonb_build_array(g.id), 'scopes', to_jsonb(m.scopes),
                          'grant_type', g.grant_type, 'client_id', c.client_id),
       NULL
FROM inventory_grant g {_GRANT_JOINS}
CROSS JOIN LATERAL (SELECT array(SELECT s FROM unnest(g.scopes) s
                                 WHERE s = ANY(%(scopes)s::varchar[]) ORDER BY s) AS scopes) m
WHERE {_ACTIVE_GRANT} AND g.scopes && %(scopes)s::varchar[] {{where}}
"""
GRANT_BROAD_SCOPES = _SCOPED_GRANTS.format(
    what=f"{_CLIENT_REPR} || ' holds broad scopes for ' || coalesce({_IDENTITY_REPR}, 'itself')"
    " || ': '",
    where="",
)
GRANT_CLIENT_CREDENTIALS_USER_SCOPES = _SCOPED_GRANTS.format(
    what=f"'Client-credentials grant of ' || {_CLIENT_REPR} || ' carries user scopes: '",
    where="AND g.grant_type = 'client_credentials'",
)

TASK_RUNNING_AFTER_REVOCATION = """
SELECT 'inventory.task', t.id::text, t.task_id, '',
       'Task ' || t.task_id || coalesce(' on ' || s.name, '') || ' still ' || t.status
           || ' after ' || CASE WHEN g.status = 'revoked' THEN 'its grant was revoked'
                                WHEN c.cut_off_at IS NOT NULL THEN 'its client was cut off'
                                ELSE 'its identity was cut off' END,
       jsonb_build_object(
           'status', t.status, 'grant_ids', CASE WHEN g.id IS NULL THEN '[]'::jsonb
                                                 ELSE jsonb_build_array(g.id) END,
           'grant_revoked_at', g.revoked_at, 'client_cut_off_at', c.cut_off_at,
           'identity_cut_off_at', i.cut_off_at, 'orphaned_at', t.orphaned_at),
       NULL
FROM inventory_task t
LEFT JOIN inventory_server s ON s.id = t.server_id
LEFT JOIN inventory_grant g ON g.id = t.grant_id
LEFT JOIN inventory_client c ON c.id = coalesce(t.client_id, g.client_id)
LEFT JOIN inventory_identity i ON i.id = coalesce(t.identity_id, g.subject_id)
WHERE t.status IN ('working', 'input_required')
  AND (g.status = 'revoked' OR c.cut_off_at IS NOT NULL OR i.cut_off_at IS NOT NULL)
"""

# A new client whose metadata has problems: open cimd.* / oauth.* findings on it, or a current
# document that is invalid. Once raised it holds while the problems do, even after the client
# stops being new (what clears it is the problems going, not the client ageing).
CLIENT_RISKY_FIRST_SEEN = f"""
SELECT 'inventory.client', c.id::text, {_CLIENT_REPR}, '',
       'New client ' || {_CLIENT_REPR} || ' (first seen '
           || to_char(c.first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ') has risky metadata: '
           || coalesce(array_to_string(f.kinds, ', '), 'an invalid metadata document'),
       jsonb_build_object('first_seen', c.first_seen, 'finding_ids', to_jsonb(f.ids),
                          'finding_kinds', to_jsonb(f.kinds), 'document_version_ids',
                          CASE WHEN d.id IS NULL THEN '[]'::jsonb
                               ELSE jsonb_build_array(d.id) END,
                          'document_valid', d.is_valid),
       NULL
FROM inventory_client c
LEFT JOIN LATERAL (
    SELECT array_agg(x.id ORDER BY x.id) AS ids, array_agg(DISTINCT x.kind) AS kinds
    FROM inventory_finding x
    WHERE x.object_type = 'inventory.client' AND x.object_id = c.id::text
      AND x.resolved_at IS NULL AND (x.kind LIKE 'cimd.%%' OR x.kind LIKE 'oauth.%%')) f ON true
LEFT JOIN inventory_clientdocumentstate st ON st.client_id = c.id
LEFT JOIN inventory_clientdocument d ON d.id = st.current_id
WHERE (c.first_seen >= %(now)s - make_interval(days => %(days)s)
       OR EXISTS (SELECT 1 FROM inventory_finding r
                  WHERE r.kind = 'client.risky_first_seen' AND r.object_type = 'inventory.client'
                    AND r.object_id = c.id::text AND r.resolved_at IS NULL))
  AND (f.ids IS NOT NULL OR d.is_valid = false)
"""


def _distinct_active_scopes(*, grant_type: str = "") -> list[str]:
    """The distinct scopes active grants carry (a few hundred, whatever the number of grants)."""
    sql = (
        "SELECT DISTINCT s FROM inventory_grant g, unnest(g.scopes) s "
        "WHERE g.status = 'active' AND g.vanished_at IS NULL"
    )
    with connection.cursor() as cursor:
        if grant_type:
            cursor.execute(sql + " AND g.grant_type = %s", [grant_type])
        else:
            cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def _days(rule: EffectiveRule, now) -> dict:
    return {"now": now, "days": rule.thresholds["days"]}


def _broad(rule: EffectiveRule, now) -> dict:
    scopes = scopes_matching(rule.thresholds["patterns"], _distinct_active_scopes())
    return {"now": now, "scopes": scopes}


def _user_scopes(rule: EffectiveRule, now) -> dict:
    found = _distinct_active_scopes(grant_type="client_credentials")
    return {"now": now, "scopes": scopes_matching(rule.thresholds["user_scopes"], found)}


def _now_only(rule: EffectiveRule, now) -> dict:
    return {"now": now}


# kind -> (the SELECT of what holds, the parameters it takes from the rule's settings)
INVENTORY_RULES: dict[str, tuple[str, Callable[[EffectiveRule, datetime], dict]]] = {
    "identity.inactive_with_grants": (IDENTITY_INACTIVE_WITH_GRANTS, _now_only),
    "client.blocked_with_grants": (CLIENT_BLOCKED_WITH_GRANTS, _now_only),
    "grant.dormant": (GRANT_DORMANT, _days),
    "grant.broad_scopes": (GRANT_BROAD_SCOPES, _broad),
    "grant.client_credentials_user_scopes": (GRANT_CLIENT_CREDENTIALS_USER_SCOPES, _user_scopes),
    "task.running_after_revocation": (TASK_RUNNING_AFTER_REVOCATION, _now_only),
    "client.risky_first_seen": (CLIENT_RISKY_FIRST_SEEN, _days),
}


def run_inventory_rule(kind: str, *, now: datetime | None = None) -> dict[str, int]:
    """Reconcile one rule's findings with the inventory now: {"raised", "refreshed",
    "resolved"}. A rule the Admin turned off resolves its open findings ("rule disabled")."""
    now = now or timezone.now()
    rule = effective_rule(kind)
    if not rule.enabled:
        return resolve_all(kind, why="rule disabled", now=now)
    sql, params = INVENTORY_RULES[kind]
    return reconcile(
        kind,
        severity=rule.severity,
        sql=sql,
        params=params(rule, now),
        cleared=rule.rule.clears,
        now=now,
    )


def run_risky_first_seen(*, now: datetime | None = None) -> dict[str, int]:
    """After a CIMD crawl: new clients whose fetched metadata has problems."""
    return run_inventory_rule("client.risky_first_seen", now=now)


def run_task_past_ttl(*, now: datetime | None = None) -> dict[str, int]:
    """The task-expiry sweep (task_expiry.py) under the rule's settings: its severity, and
    nothing raised (its open findings resolved) while an Admin has it turned off."""
    now = now or timezone.now()
    rule = effective_rule(TASK_PAST_TTL)
    if not rule.enabled:
        return resolve_all(TASK_PAST_TTL, why="rule disabled", now=now)
    return sweep_tasks_past_ttl(now=now, severity=rule.severity)
