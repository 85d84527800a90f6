"""Protocol features from a batch's protocol reports (audit/services/protocol_extract.py), in SQL.

The contract with audit's ingest, like derive.py's: the ingest loads the reports of a batch's
new events into the session's temp table `audit_protocol` (PROTOCOL_STAGE_DDL; the report
dicts' keys are its column names, extra keys ignored) and runs `PROTOCOL_STATEMENTS`, in order,
inside its per-connection function, after the batch's clients, servers and identities are
upserted: no extra round trip, and a one-event request keeps its autocommit call. Set-based:
one statement per table (profile changes marked, profiles, their history, sessions, URL
elicitations, sampling requests) and one for all the flags (protocol_flags.py), rows in key
order so concurrent batches lock in the same order. As in derive.py, a plain read first skips
the rows the stored ones already cover (same declaration, last seen within FRESH, a flag raised
within FRESH): an upsert locks its conflicting row even when it then changes nothing, and every
concurrent batch naming a busy peer would queue behind the other's durable commit.
"""

from __future__ import annotations

from inventory.services.derive import FRESH
from inventory.services.protocol_flags import FLAGS_SQL

PROTOCOL_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS audit_protocol (
    ordinal integer, kind text, time timestamptz, event_id text, server_name text,
    client_ref text, actor_issuer text, actor_subject text, session_id text, method text,
    offered text, negotiated text, role text, capabilities jsonb, capabilities_invalid boolean,
    extensions jsonb, extensions_dropped integer, info_name text, info_version text,
    info_title text, info_website text, revision text, sampling boolean, sampling_tools boolean,
    elicitation_url boolean, hash text, elicitation_id text, item integer, phase text,
    origin text, had_credentials boolean, redacted boolean, action text, tools jsonb,
    tool_count integer, tool_choice text, changed boolean
)
"""
# The reports of the batch's *new* events (the stage holds only those once stored).
LOAD_SQL = """
INSERT INTO audit_protocol
SELECT * FROM json_populate_recordset(NULL::audit_protocol, p_protocol) r
WHERE r.ordinal IN (SELECT ord FROM audit_stage)
"""
PEER_REF = "CASE r.role WHEN 'client' THEN r.client_ref ELSE r.server_name END"
# A declaration is a change when it differs from the one before it: the batch's previous one
# for the peer, else the stored one (an older event arriving late changes nothing).
MARK_CHANGES_SQL = f"""
UPDATE audit_protocol t SET changed = true
FROM (SELECT r.ordinal, r.role, r.time, r.hash, {PEER_REF} AS ref,
             lag(r.hash) OVER (PARTITION BY r.role, {PEER_REF} ORDER BY r.time, r.ordinal) AS prev
      FROM audit_protocol r WHERE r.kind = 'peer') x
LEFT JOIN inventory_protocolprofile p ON p.role = x.role AND p.peer_ref = x.ref
WHERE t.kind = 'peer' AND t.ordinal = x.ordinal AND t.role = x.role AND x.ref <> ''
  AND coalesce(x.prev, p.content_hash, '') <> x.hash
  AND (x.prev IS NOT NULL OR p.last_seen IS NULL OR x.time >= p.last_seen)
"""
_DECLARED = (
    "capabilities", "capabilities_invalid", "extensions", "extensions_dropped", "info_name",
    "info_version", "info_title", "info_website", "protocol_version", "sampling",
    "sampling_tools", "elicitation_url", "content_hash", "changed_at",
)  # fmt: skip
# The latest declaration per peer; it replaces the stored one only when it is not older.
PROFILES_SQL = (
    f"""
INSERT INTO inventory_protocolprofile AS p (role, peer_ref, client_id, server_id, capabilities,
    capabilities_invalid, extensions, extensions_dropped, info_name, info_version, info_title,
    info_website, protocol_version, sampling, sampling_tools, elicitation_url, content_hash,
    first_seen, last_seen, changed_at)
SELECT l.role, l.ref, c.id, srv.id, coalesce(l.capabilities, '{{}}'),
       coalesce(l.capabilities_invalid, false),
       ARRAY(SELECT jsonb_array_elements_text(coalesce(l.extensions, '[]'))),
       coalesce(l.extensions_dropped, 0), l.info_name, l.info_version, l.info_title,
       l.info_website, l.revision, l.sampling, l.sampling_tools, l.elicitation_url, l.hash,
       l.first_time, l.time, coalesce(l.changed_at, l.first_time)
FROM (SELECT DISTINCT ON (x.role, x.ref) x.* FROM (
        SELECT r.*, {PEER_REF} AS ref,
               min(r.time) OVER (PARTITION BY r.role, {PEER_REF}) AS first_time,
               max(r.time) FILTER (WHERE r.changed) OVER (PARTITION BY r.role, {PEER_REF})
                   AS changed_at
        FROM audit_protocol r WHERE r.kind = 'peer') x
      WHERE x.ref <> ''
      ORDER BY x.role, x.ref, x.time DESC, x.ordinal DESC) l
LEFT JOIN inventory_client c ON l.role = 'client' AND c.client_id = l.ref
LEFT JOIN inventory_server srv ON l.role = 'server' AND srv.name = l.ref
WHERE NOT EXISTS (
    SELECT 1 FROM inventory_protocolprofile e WHERE e.role = l.role AND e.peer_ref = l.ref
      AND e.content_hash = l.hash AND l.time <= e.last_seen + {FRESH}
      AND l.first_time >= e.first_seen AND coalesce(e.client_id, e.server_id) IS NOT NULL)
ORDER BY l.role, l.ref
ON CONFLICT ON CONSTRAINT protocol_profile_key DO UPDATE SET
    client_id = coalesce(EXCLUDED.client_id, p.client_id),
    server_id = coalesce(EXCLUDED.server_id, p.server_id),
"""
    + "".join(
        f"    {c} = CASE WHEN EXCLUDED.last_seen >= p.last_seen AND EXCLUDED.content_hash <> "
        f"p.content_hash THEN EXCLUDED.{c} ELSE p.{c} END,\n"
        for c in _DECLARED
    )
    + """    first_seen = LEAST(p.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(p.last_seen, EXCLUDED.last_seen)
WHERE EXCLUDED.content_hash <> p.content_hash OR EXCLUDED.first_seen < p.first_seen
   OR EXCLUDED.last_seen > p.last_seen + {FRESH}
   OR (p.client_id IS NULL AND EXCLUDED.client_id IS NOT NULL)
   OR (p.server_id IS NULL AND EXCLUDED.server_id IS NOT NULL)
"""
).replace("{FRESH}", FRESH)
HISTORY_SQL = f"""
INSERT INTO inventory_protocolprofilechange (profile_id, at, capabilities, extensions, info_name,
    info_version, info_title, info_website, protocol_version, content_hash, event_ref)
SELECT p.id, r.time, coalesce(r.capabilities, '{{}}'),
       ARRAY(SELECT jsonb_array_elements_text(coalesce(r.extensions, '[]'))), r.info_name,
       r.info_version, r.info_title, r.info_website, r.revision, r.hash, r.event_id
FROM audit_protocol r
JOIN inventory_protocolprofile p ON p.role = r.role AND p.peer_ref = {PEER_REF}
WHERE r.kind = 'peer' AND r.changed
ORDER BY p.id, r.time, r.ordinal
"""
# A session is keyed by its Mcp-Session-Id; 2026-07-28 has none, where a server/discover
# stands for one (keyed by its event) and other requests only feed the peers' profiles.
SESSIONS_SQL = f"""
INSERT INTO inventory_protocolsession AS p (server_name, session_key, server_id, client_id,
    identity_id, offered_version, negotiated_version, first_seen, last_seen)
SELECT g.server_name, g.session_key, srv.id, c.id, i.id, g.offered, g.negotiated, g.f, g.l
FROM (SELECT r.server_name,
             CASE WHEN r.session_id <> '' THEN r.session_id
                  ELSE 'event:' || r.event_id END AS session_key,
             (array_agg(r.client_ref ORDER BY r.time, r.ordinal))[1] AS client_ref,
             (array_agg(r.actor_issuer ORDER BY r.time, r.ordinal))[1] AS actor_issuer,
             (array_agg(r.actor_subject ORDER BY r.time, r.ordinal))[1] AS actor_subject,
             coalesce((array_agg(r.offered ORDER BY r.time, r.ordinal)
                       FILTER (WHERE r.offered <> ''))[1], '') AS offered,
             coalesce((array_agg(r.negotiated ORDER BY r.time DESC, r.ordinal DESC)
                       FILTER (WHERE r.negotiated <> ''))[1], '') AS negotiated,
             min(r.time) AS f, max(r.time) AS l
      FROM audit_protocol r
      WHERE r.kind = 'session' AND (r.session_id <> '' OR r.method = 'server/discover')
      GROUP BY 1, 2) g
LEFT JOIN inventory_server srv ON srv.name = g.server_name
LEFT JOIN inventory_client c ON c.client_id = g.client_ref
LEFT JOIN inventory_identity i ON g.actor_subject <> '' AND i.issuer = g.actor_issuer
                              AND i.subject = g.actor_subject
-- 2026-07-28 requests each carry the revision: a session already covered is not rewritten.
WHERE NOT EXISTS (
    SELECT 1 FROM inventory_protocolsession e
    WHERE e.server_name = g.server_name AND e.session_key = g.session_key
      AND g.l <= e.last_seen + {FRESH} AND g.f >= e.first_seen
      AND g.negotiated IN ('', e.negotiated_version) AND e.offered_version <> '')
ORDER BY 1, 2
ON CONFLICT ON CONSTRAINT protocol_session_key DO UPDATE SET
    server_id = coalesce(p.server_id, EXCLUDED.server_id),
    client_id = coalesce(p.client_id, EXCLUDED.client_id),
    identity_id = coalesce(p.identity_id, EXCLUDED.identity_id),
    offered_version = coalesce(nullif(p.offered_version, ''), EXCLUDED.offered_version),
    negotiated_version = coalesce(nullif(EXCLUDED.negotiated_version, ''), p.negotiated_version),
    first_seen = LEAST(p.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(p.last_seen, EXCLUDED.last_seen)
"""
# The elicitation's key: its elicitationId, unique within the server (2025-11-25), else the
# event and its place in it (2026-07-28 has no id). A request, its -32042 error and its
# completion notification merge into one row.
ELICITATION_KEY = (
    "coalesce(nullif(r.elicitation_id, ''), left('event:' || r.event_id || ':' || r.item, 400))"
)
ELICITATIONS_SQL = f"""
INSERT INTO inventory_urlelicitation AS u (server_name, elicitation_key, elicitation_id,
    server_id, client_id, identity_id, session_id, origin, url_had_credentials, url_redacted,
    via_error, action, requested_at, completed_at, event_ref, first_seen, last_seen)
SELECT g.server_name, g.ekey, g.elicitation_id, srv.id, c.id, i.id, g.session_id, g.origin,
       g.creds, g.redacted, g.via_error, g.action, g.requested, g.completed, g.event_ref, g.f, g.l
FROM (SELECT r.server_name, {ELICITATION_KEY} AS ekey, max(r.elicitation_id) AS elicitation_id,
             (array_agg(r.client_ref ORDER BY r.time, r.ordinal))[1] AS client_ref,
             (array_agg(r.actor_issuer ORDER BY r.time, r.ordinal))[1] AS actor_issuer,
             (array_agg(r.actor_subject ORDER BY r.time, r.ordinal))[1] AS actor_subject,
             (array_agg(r.session_id ORDER BY r.time, r.ordinal))[1] AS session_id,
             coalesce((array_agg(r.origin ORDER BY r.time, r.ordinal)
                       FILTER (WHERE r.origin <> ''))[1], '') AS origin,
             bool_or(r.had_credentials) AS creds, bool_or(r.redacted) AS redacted,
             bool_or(r.phase = 'required') AS via_error,
             coalesce((array_agg(r.action ORDER BY r.time DESC, r.ordinal DESC)
                       FILTER (WHERE r.action <> ''))[1], '') AS action,
             min(r.time) FILTER (WHERE r.phase <> 'complete') AS requested,
             min(r.time) FILTER (WHERE r.phase = 'complete') AS completed,
             (array_agg(r.event_id ORDER BY r.time, r.ordinal))[1] AS event_ref,
             min(r.time) AS f, max(r.time) AS l
      FROM audit_protocol r WHERE r.kind = 'elicitation'
      GROUP BY 1, 2) g
LEFT JOIN inventory_server srv ON srv.name = g.server_name
LEFT JOIN inventory_client c ON c.client_id = g.client_ref
LEFT JOIN inventory_identity i ON g.actor_subject <> '' AND i.issuer = g.actor_issuer
                              AND i.subject = g.actor_subject
ORDER BY 1, 2
ON CONFLICT ON CONSTRAINT url_elicitation_key DO UPDATE SET
    server_id = coalesce(u.server_id, EXCLUDED.server_id),
    client_id = coalesce(u.client_id, EXCLUDED.client_id),
    identity_id = coalesce(u.identity_id, EXCLUDED.identity_id),
    session_id = coalesce(nullif(u.session_id, ''), EXCLUDED.session_id),
    origin = coalesce(nullif(u.origin, ''), EXCLUDED.origin),
    url_had_credentials = u.url_had_credentials OR EXCLUDED.url_had_credentials,
    url_redacted = u.url_redacted OR EXCLUDED.url_redacted,
    via_error = u.via_error OR EXCLUDED.via_error,
    action = coalesce(nullif(EXCLUDED.action, ''), u.action),
    requested_at = LEAST(u.requested_at, EXCLUDED.requested_at),
    completed_at = LEAST(u.completed_at, EXCLUDED.completed_at),
    event_ref = coalesce(nullif(u.event_ref, ''), EXCLUDED.event_ref),
    first_seen = LEAST(u.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(u.last_seen, EXCLUDED.last_seen)
"""
SAMPLING_SQL = """
INSERT INTO inventory_samplingrequest (server_name, server_id, client_id, identity_id, session_id,
    tool_names, tool_count, tool_choice, at, event_ref)
SELECT r.server_name, srv.id, c.id, i.id, r.session_id,
       ARRAY(SELECT jsonb_array_elements_text(coalesce(r.tools, '[]'))), r.tool_count,
       r.tool_choice, r.time, r.event_id
FROM audit_protocol r
LEFT JOIN inventory_server srv ON srv.name = r.server_name
LEFT JOIN inventory_client c ON c.client_id = r.client_ref
LEFT JOIN inventory_identity i ON r.actor_subject <> '' AND i.issuer = r.actor_issuer
                              AND i.subject = r.actor_subject
WHERE r.kind = 'sampling'
ORDER BY r.time, r.ordinal
"""

# In order, each with the report kind it needs (None: always): changes are marked against the
# stored profiles before these are replaced, and the flags read the profiles, sessions and
# elicitations written before them. The ingest skips the statements of kinds the batch lacks.
PROTOCOL_STATEMENTS = (
    (None, LOAD_SQL),
    ("peer", MARK_CHANGES_SQL),
    ("peer", PROFILES_SQL),
    ("peer", HISTORY_SQL),
    ("session", SESSIONS_SQL),
    ("elicitation", ELICITATIONS_SQL),
    ("sampling", SAMPLING_SQL),
    (None, FLAGS_SQL),
    (None, "DELETE FROM audit_protocol"),
)
