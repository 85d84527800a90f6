"""The finding rules that run inside the ingest function (issue 14 §2), over each batch's stage.

Part of the derived-state contract with audit's ingest (derive.statements), like derive_revoked:
- `access.blocked_client_called`, `access.blocked_server_called`, `server.deleted_but_called`
  (CALLED_SQL): events of a client or to a server the team blocked (review status), or to a
  server its registry marks deleted. One statement for the three, run only when something is
  blocked or deleted at all (EXISTS_SQL: probes of indexed status columns, ~free otherwise);
- `tool.first_called` (info) and `tool.name_violation`: the tools statement
  (TOOLS_WITH_RULES_SQL) derives the Tool rows events show, raises the first when it inserts a
  tool (one a registry listed is not new) and the second for a called name outside 1-128
  characters of [A-Za-z0-9_.-] (inventory.models.TOOL_NAME_RE; one open finding per tool, its
  name the dedup key). It reads only the batch's (server, tool) pairs the process did not
  store within the minute, and ingest skips it for a batch with none (audit/services/
  fresh_tools.py). The Tool rows exist for these rules: with
  settings.FINDINGS_EVENT_RULES off ingest does not derive them, so the switch measures all
  that findings add to ingest (the client rollup is kept either way: the activity report reads
  it too).

Evidence on every finding: the first event ids (MAX_EVENT_IDS), the first and last call and the
number of calls counted. An open finding is refreshed at most once a minute (derive.FRESH, as
protocol_flags): a batch whose calls are all within a minute of its last refresh neither
rewrites nor row-locks it, so `calls` counts the calls of the refreshing batches, a lower
bound. Quiet or unblocked ones are cleared by governance/findings/event_rules.py.
"""

from __future__ import annotations

from inventory.finding_rules import RULES_BY_KIND
from inventory.services.derive_revoked import MAX_EVENT_IDS  # the same bound on evidence

BLOCKED_CLIENT = "access.blocked_client_called"
BLOCKED_SERVER = "access.blocked_server_called"
DELETED_SERVER = "server.deleted_but_called"
FIRST_CALLED = "tool.first_called"
NAME_VIOLATION = "tool.name_violation"
_IDS = f"(array_agg(s.event_id ORDER BY s.time))[1:{MAX_EVENT_IDS}]"

# Probes of the indexed status columns: empty unless something is blocked or deleted.
EXISTS_SQL = """
EXISTS (SELECT 1 FROM inventory_client WHERE review_status = 'blocked')
OR EXISTS (SELECT 1 FROM inventory_server WHERE review_status = 'blocked')
OR EXISTS (SELECT 1 FROM inventory_server WHERE registry_status = 'deleted')
"""


def _severity(kind: str) -> str:
    return RULES_BY_KIND[kind].severity


# The matching events of each rule; each branch probes its own status first (an initplan), so
# a deployment with only blocked clients does not scan the stage for servers.
_CALLS = f"""
SELECT '{BLOCKED_CLIENT}' AS kind, '{_severity(BLOCKED_CLIENT)}' AS severity,
       'inventory.client' AS object_type, c.id AS object_id,
       coalesce(nullif(c.name, ''), c.client_id) AS repr,
       'Blocked client ' || coalesce(nullif(c.name, ''), c.client_id)
           || ' is still making calls' AS summary, s.event_id, s.time
FROM {{stage}} s JOIN inventory_client c ON c.client_id = s.client_ref
WHERE c.review_status = 'blocked' AND s.client_ref <> ''
  AND EXISTS (SELECT 1 FROM inventory_client WHERE review_status = 'blocked')
UNION ALL
SELECT '{BLOCKED_SERVER}', '{_severity(BLOCKED_SERVER)}', 'inventory.server', v.id, v.name,
       'Blocked server ' || v.name || ' is still being called', s.event_id, s.time
FROM {{stage}} s JOIN inventory_server v ON v.name = s.server_name
WHERE v.review_status = 'blocked' AND s.server_name <> ''
  AND EXISTS (SELECT 1 FROM inventory_server WHERE review_status = 'blocked')
UNION ALL
SELECT '{DELETED_SERVER}', '{_severity(DELETED_SERVER)}', 'inventory.server', v.id, v.name,
       'Server ' || v.name || ', deleted in its registry, is still being called',
       s.event_id, s.time
FROM {{stage}} s JOIN inventory_server v ON v.name = s.server_name
WHERE v.registry_status = 'deleted' AND s.server_name <> ''
  AND EXISTS (SELECT 1 FROM inventory_server WHERE registry_status = 'deleted')
"""

_COLUMNS = """INSERT INTO inventory_finding (kind, severity, object_type, object_id, object_repr,
    dedup_key, summary, details, raised_at, last_raised_at, times_raised, resolved_at,
    resolved_by)"""

# The evidence of a refresh merged into the open finding's: ids capped, times widened, calls
# added. The same for every event rule.
_REFRESH = f"""
ON CONFLICT (kind, object_type, object_id, dedup_key) WHERE resolved_at IS NULL DO UPDATE SET
    last_raised_at = GREATEST(inventory_finding.last_raised_at, EXCLUDED.last_raised_at),
    times_raised = inventory_finding.times_raised + 1,
    details = inventory_finding.details || jsonb_build_object(
        'event_ids', jsonb_path_query_array(
            coalesce(inventory_finding.details->'event_ids', '[]'::jsonb)
                || (EXCLUDED.details->'event_ids'), '$[0 to {MAX_EVENT_IDS - 1}]'),
        'first_call_at', LEAST((inventory_finding.details->>'first_call_at')::timestamptz,
                               (EXCLUDED.details->>'first_call_at')::timestamptz),
        'last_call_at', GREATEST((inventory_finding.details->>'last_call_at')::timestamptz,
                                 (EXCLUDED.details->>'last_call_at')::timestamptz),
        'calls', coalesce((inventory_finding.details->>'calls')::bigint, 0)
                 + (EXCLUDED.details->>'calls')::bigint)
"""


def _fresh(kind: str, object_type: str, object_id: str, dedup: str, last: str) -> str:
    """An open finding with this key refreshed within a minute of `last`: skip it (a plain
    read; ON CONFLICT would row-lock it even when nothing changes)."""
    return f"""EXISTS (
    SELECT 1 FROM inventory_finding x WHERE x.kind = {kind} AND x.object_type = {object_type}
      AND x.object_id = {object_id} AND x.dedup_key = {dedup} AND x.resolved_at IS NULL
      AND {last} <= x.last_raised_at + {{fresh}})"""


CALLED_SQL = f"""
{_COLUMNS}
SELECT h.kind, h.severity, h.object_type, h.object_id::text, left(h.repr, 500), '',
       left(h.summary, 500),
       jsonb_build_object('event_ids', to_jsonb({_IDS.replace("s.", "h.")}),
                          'first_call_at', min(h.time), 'last_call_at', max(h.time),
                          'calls', count(*)),
       min(h.time), max(h.time), 1, NULL, ''
FROM ({_CALLS}) h
GROUP BY h.kind, h.severity, h.object_type, h.object_id, h.repr, h.summary
HAVING NOT {_fresh("h.kind", "h.object_type", "h.object_id::text", "''", "max(h.time)")}
ORDER BY h.kind, h.object_type, h.object_id
{_REFRESH}
"""

# The (server, tool) pairs of the batch that the process did not store within the minute
# (`%(tool_pairs)s`, a JSON array of [server, tool]: audit's fresh_tools.py);
# a name longer than the column is cut (it breaks the
# naming rule either way). `conforms` is TOOL_NAME_RE, without a brace (the contract test
# checks that every placeholder of the statements is filled in). Every lookup below is a
# subquery kept apart by OFFSET 0, as in derive_revoked: an index probe per server and per
# pair of the batch whatever the statistics say (a plan that hashed the whole tool table cost
# a one-event batch 0.2 ms with 700 tools, and grows with the inventory; one that looked the
# server up per pair, 14 ms of a 1,000-event batch).
_CALLED_TOOLS = """
called AS MATERIALIZED (
    SELECT srv.id AS server_id, srv.name AS server_name, t.name, t.first_at, t.last_at,
           t.name ~ '^[A-Za-z0-9_.-]+$' AND length(t.name) <= 128 AS conforms
    FROM (SELECT server_name, left(tool, 300) AS name, min(time) AS first_at,
                 max(time) AS last_at
          FROM {stage} WHERE tool <> '' AND server_name <> ''
            AND (server_name, left(tool, 300)) IN (
                SELECT p->>0, p->>1 FROM json_array_elements(%(tool_pairs)s) p)
          GROUP BY 1, 2) t
    JOIN (SELECT v.id, v.name
          FROM (SELECT DISTINCT server_name FROM {stage}
                WHERE tool <> '' AND server_name <> '') d
          CROSS JOIN LATERAL (SELECT v.id, v.name FROM inventory_server v
                              WHERE v.name = d.server_name OFFSET 0) v) srv
      ON srv.name = t.server_name)"""

# Inserted or widened (kept to the minute, as the other derived rows; the NOT EXISTS skips a
# fresh row by a plain read). RETURNING says which rows the statement inserted.
_UPSERT_TOOLS = """
    INSERT INTO inventory_tool (server_id, name, title, description, name_conforms,
                                task_support, first_seen, last_seen)
    SELECT c.server_id, c.name, '', '', c.conforms, '', c.first_at, c.last_at FROM called c
    WHERE NOT EXISTS (
        SELECT 1 FROM inventory_tool e WHERE e.server_id = c.server_id AND e.name = c.name
          AND c.last_at <= e.last_seen + {fresh} AND c.first_at >= e.first_seen OFFSET 0)
    ORDER BY c.server_id, c.name
    ON CONFLICT (server_id, name) DO UPDATE SET
        first_seen = LEAST(inventory_tool.first_seen, EXCLUDED.first_seen),
        last_seen = GREATEST(inventory_tool.last_seen, EXCLUDED.last_seen)
    WHERE EXCLUDED.last_seen > inventory_tool.last_seen + {fresh}
       OR EXCLUDED.first_seen < inventory_tool.first_seen
    RETURNING id, server_id, name, xmax = 0 AS inserted"""


# The evidence of one tool's calls in the batch, read only for the few tools a rule names.
def _tool_calls(server: str, name: str) -> str:
    return f"""CROSS JOIN LATERAL (
    SELECT {_IDS} AS ids, min(s.time) AS first_at, max(s.time) AS last_at, count(*) AS calls
    FROM {{stage}} s WHERE s.server_name = {server} AND left(s.tool, 300) = {name}) e"""


_EVIDENCE = """jsonb_build_object('server', {server}, 'event_ids', to_jsonb(e.ids),
           'first_call_at', e.first_at, 'last_call_at', e.last_at, 'calls', e.calls)"""

TOOLS_WITH_RULES_SQL = f"""
WITH{_CALLED_TOOLS},
upserted AS ({_UPSERT_TOOLS}),
violations AS (
    {_COLUMNS}
    SELECT '{NAME_VIOLATION}', '{_severity(NAME_VIOLATION)}', 'inventory.tool',
           coalesce(u.id, t.id)::text, left(c.name, 500), c.name,
           left('Tool name ' || to_json(c.name)::text || ' on ' || c.server_name
                || ' breaks the MCP naming rules', 500),
           {_EVIDENCE.format(server="c.server_name")}, e.first_at, e.last_at, 1, NULL, ''
    FROM called c
    LEFT JOIN upserted u ON u.server_id = c.server_id AND u.name = c.name
    LEFT JOIN LATERAL (SELECT t.id FROM inventory_tool t
                       WHERE t.server_id = c.server_id AND t.name = c.name OFFSET 0) t ON true
    {_tool_calls("c.server_name", "c.name")}
    WHERE NOT c.conforms AND coalesce(u.id, t.id) IS NOT NULL
      AND NOT {
    _fresh(
        f"'{NAME_VIOLATION}'",
        "'inventory.tool'",
        "coalesce(u.id, t.id)::text",
        "c.name",
        "e.last_at",
    )
}
    ORDER BY 4
    {_REFRESH.strip()})
{_COLUMNS}
SELECT '{FIRST_CALLED}', '{_severity(FIRST_CALLED)}', 'inventory.tool', u.id::text,
       left(u.name, 500), '',
       left('Tool ' || u.name || ' first called on ' || c.server_name, 500),
       {_EVIDENCE.format(server="c.server_name")}, e.first_at, e.last_at, 1, NULL, ''
FROM upserted u JOIN called c ON c.server_id = u.server_id AND c.name = u.name
{_tool_calls("c.server_name", "u.name")}
WHERE u.inserted
ORDER BY u.id
{_REFRESH.strip()}
"""
