"""The SQL of one ingest batch (audit/services/ingest.py runs it): the session's stage table,
the store statement (dedup keys, events, the batch's content hash), the hourly rollups, the
batch row, and all of it as the session-local function `pg_temp.audit_ingest`, one round trip
per batch. The derive statements it calls are inventory's (inventory/services/derive*.py)."""

from __future__ import annotations

from audit.services.canon import PIN_SETTINGS, canon_sql
from audit.services.validation import STAGE_COLUMNS
from inventory.services.derive import statements
from inventory.services.derive_event_rules import EXISTS_SQL as ANYTHING_BLOCKED_SQL
from inventory.services.derive_protocol import PROTOCOL_STATEMENTS
from inventory.services.derive_revoked import EXISTS_SQL as ANYTHING_REVOKED_SQL

STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS audit_stage (
    ord integer, event_id text, time timestamptz, type text, actor_issuer text,
    actor_subject text, actor_email text, actor_name text, actor_kind text, client_ref text,
    client_name text, client_version text, server_name text, server_url text, method text,
    tool text, task_id text, session_id text, outcome text, duration_ms double precision,
    grant_id text, grant_issuer text, redacted boolean, payload json
)
"""
# Inventory's derived state, read from the stage (the contract: inventory/services/derive.py).
DERIVE = statements(stage_table="audit_stage", columns=STAGE_COLUMNS)
COPY_SQL = f"COPY audit_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
# Session settings, set once per connection with the stage (a statement per batch saved):
# synchronous_commit on whatever the server default, so a 2xx is only sent once the batch's
# WAL is flushed and an acknowledged batch survives a database crash; and the settings the
# canonical-row text depends on (see audit/services/canon.py).
SESSION_SETTINGS = (
    PIN_SETTINGS.replace("true)", "false)") + ", set_config('synchronous_commit', 'on', false)"
)

STORE_SQL = (
    """
WITH b AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('audit_eventbatch', 'id')) AS id),
new AS (
    INSERT INTO audit_event_dedup (source_id, event_id, time)
    SELECT %(source)s::bigint, event_id, time FROM audit_stage ORDER BY event_id
    ON CONFLICT DO NOTHING RETURNING event_id),
dropped AS (
    DELETE FROM audit_stage s WHERE NOT EXISTS (SELECT 1 FROM new WHERE new.event_id = s.event_id)),
ins AS (
    INSERT INTO audit_event (time, received_at, source_id, batch_id, event_id, type, actor_issuer,
        actor_subject, client_ref, server_name, method, tool, task_id, session_id, outcome,
        duration_ms, redacted, payload)
    SELECT s.time, now(), %(source)s::bigint, b.id, s.event_id, s.type, s.actor_issuer,
        s.actor_subject, s.client_ref, s.server_name, s.method, s.tool, s.task_id, s.session_id,
        s.outcome, s.duration_ms, s.redacted, s.payload
    FROM audit_stage s JOIN new USING (event_id) CROSS JOIN b ORDER BY s.ord
    RETURNING id, """
    + canon_sql("audit_event")
    + """ AS canon)
SELECT (SELECT id FROM b), count(*),
       encode(sha256(convert_to(coalesce(string_agg(canon, E'\\n' ORDER BY id), ''),
                                'UTF8')), 'hex')
FROM ins
"""
)

EVENT_ROLLUP_SQL = """
INSERT INTO audit_eventrolluphourly (hour, source_id, server_name, tool, method, outcome, events,
                                     duration_ms_sum)
SELECT date_trunc('hour', time, 'UTC'), %s::bigint, server_name, tool, method, outcome, count(*),
       coalesce(sum(duration_ms), 0)
FROM audit_stage GROUP BY 1, 3, 4, 5, 6 ORDER BY 1, 3, 4, 5, 6
ON CONFLICT ON CONSTRAINT event_rollup_hourly_key DO UPDATE SET
    events = audit_eventrolluphourly.events + EXCLUDED.events,
    duration_ms_sum = audit_eventrolluphourly.duration_ms_sum + EXCLUDED.duration_ms_sum
"""

SERVER_ROLLUP_SQL = """
INSERT INTO audit_serverrolluphourly (hour, source_id, server_name, outcome, events)
SELECT date_trunc('hour', time, 'UTC'), %s::bigint, server_name, outcome, count(*)
FROM audit_stage GROUP BY 1, 3, 4 ORDER BY 1, 3, 4
ON CONFLICT ON CONSTRAINT server_rollup_hourly_key DO UPDATE SET
    events = audit_serverrolluphourly.events + EXCLUDED.events
"""

IDENTITY_ROLLUP_SQL = """
INSERT INTO audit_identityrolluphourly (hour, actor_issuer, actor_subject, events, errors)
SELECT date_trunc('hour', time, 'UTC'), actor_issuer, actor_subject, count(*),
       count(*) FILTER (WHERE outcome IN ('error', 'denied'))
FROM audit_stage WHERE actor_subject <> '' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
ON CONFLICT ON CONSTRAINT identity_rollup_hourly_key DO UPDATE SET
    events = audit_identityrolluphourly.events + EXCLUDED.events,
    errors = audit_identityrolluphourly.errors + EXCLUDED.errors
"""

# Events and errors/denials per client and hour: the activity report's "events by client" and
# the error-spike rule's baseline (governance/findings/spikes.py), all sources together.
CLIENT_ROLLUP_SQL = """
INSERT INTO audit_clientrolluphourly (hour, client_ref, events, errors)
SELECT date_trunc('hour', time, 'UTC'), client_ref, count(*),
       count(*) FILTER (WHERE outcome IN ('error', 'denied'))
FROM audit_stage WHERE client_ref <> '' GROUP BY 1, 2 ORDER BY 1, 2
ON CONFLICT ON CONSTRAINT client_rollup_hourly_key DO UPDATE SET
    events = audit_clientrolluphourly.events + EXCLUDED.events,
    errors = audit_clientrolluphourly.errors + EXCLUDED.errors
"""

# The four rollups as one statement (data-modifying CTEs): each statement of the function costs
# ~0.03-0.1 ms of fixed overhead, which is most of the database's cost for a one-event group.
ROLLUPS_SQL = (
    "WITH event_rollup AS ("
    + EVENT_ROLLUP_SQL.strip()
    + "),\nserver_rollup AS ("
    + SERVER_ROLLUP_SQL.strip()
    + "),\nclient_rollup AS ("
    + CLIENT_ROLLUP_SQL.strip()
    + ")\n"
    + IDENTITY_ROLLUP_SQL.strip()
)

# The batch's record: sealed into the chain right after commit (audit/services/seal.py).
BATCH_SQL = """
INSERT INTO audit_eventbatch (id, source_id, received_at, event_count, content_hash, seq,
                              prev_digest, digest, sealed_at)
VALUES (%s, %s, clock_timestamp(), %s, %s, NULL, '', '', NULL)
"""


def _in_function(sql: str) -> str:
    """A statement above as a PL/pgSQL statement: parameters become the function's arguments."""
    return (
        sql.replace("%(source)s", "p_source")
        .replace("%s::bigint", "p_source")
        .replace("%(skew)s", "p_skew")
        .replace("%(tool_pairs)s", "p_tool_pairs")
        .replace("%%", "%")
        .strip()
    )


# Steps 2-5 as one session-local function (pg_temp: created with the stage, once per
# connection; its SQL stays the constants above, so there is one definition of each step).
# One call per batch instead of ~13 statements, each a network round trip with its own
# parse/bind/execute: for a one-event request that was most of the request's time.
# `p_rows` is a JSON array of stage rows; `fresh` (the stored ordinals) only when asked for.
FUNCTION_DDL = (
    """
CREATE OR REPLACE FUNCTION pg_temp.audit_ingest(
    p_source bigint, p_rows json, p_actor boolean, p_client boolean, p_server boolean,
    p_url boolean, p_grant boolean, p_want_fresh boolean, p_skew double precision,
    p_protocol json, p_protocol_kinds text[], p_rules boolean, p_tools boolean,
    p_tool_pairs json)
RETURNS TABLE (o_batch bigint, o_accepted bigint, o_fresh integer[])
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_batch bigint; v_count bigint; v_hash text; v_fresh integer[];
BEGIN
    IF p_rows IS NOT NULL THEN  -- else the caller has COPYed the batch into the stage
        INSERT INTO audit_stage SELECT * FROM json_populate_recordset(NULL::audit_stage, p_rows);
    END IF;
    """
    + _in_function(STORE_SQL).replace("\nFROM ins", "\nINTO v_batch, v_count, v_hash FROM ins")
    + """;
    IF v_count = 0 THEN
        o_batch := NULL; o_accepted := 0; o_fresh := NULL;
        DELETE FROM audit_stage;
        RETURN NEXT;
        RETURN;
    END IF;
    IF p_actor THEN """
    + _in_function(DERIVE.identities)
    + """; END IF;
    IF p_client THEN """
    + _in_function(DERIVE.clients)
    + """; END IF;
    IF p_server THEN """
    + _in_function(DERIVE.servers)
    + """;
        IF p_url THEN """
    + _in_function(DERIVE.remotes)
    + """; END IF;
        -- Tool rows, and in the same statement the tool findings (derive_event_rules), for
        -- the (server, tool) pairs this process did not store within the minute (fresh_tools.py).
        IF p_rules AND p_tools THEN """
    + _in_function(DERIVE.tools_with_rules)
    + """; END IF;
    END IF;
    IF p_grant THEN """
    + _in_function(DERIVE.grants)
    + """; END IF;
    -- Until something is revoked the three EXISTS probe empty partial indexes: ~free.
    IF (p_actor OR p_client OR p_grant) AND ("""
    + ANYTHING_REVOKED_SQL.strip()
    + """) THEN """
    + _in_function(DERIVE.revoked_use)
    + """; END IF;
    -- Calls of blocked or deleted things: until something is, three probes of indexes: ~free.
    IF p_rules AND (p_client OR p_server) AND ("""
    + ANYTHING_BLOCKED_SQL.strip()
    + """) THEN """
    + _in_function(DERIVE.called_rules)
    + """; END IF;
    -- Protocol features (inventory/services/derive_protocol.py): only for a batch whose events
    -- carry some, i.e. an initialize, an elicitation, a sampling request (rare).
    IF p_protocol IS NOT NULL THEN
        """
    + "\n        ".join(
        f"{_in_function(sql)};"
        if kind is None
        else f"IF '{kind}' = ANY(p_protocol_kinds) THEN {_in_function(sql)}; END IF;"
        for kind, sql in PROTOCOL_STATEMENTS
    )
    + """
    END IF;
    """
    + _in_function(ROLLUPS_SQL)
    + """;
    """
    + BATCH_SQL.strip().replace(
        "VALUES (%s, %s, clock_timestamp(), %s, %s,",
        "VALUES (v_batch, p_source, clock_timestamp(), v_count, v_hash,",
    )
    + """;
    IF p_want_fresh THEN
        SELECT array_agg(ord) INTO v_fresh FROM audit_stage;
    END IF;
    o_batch := v_batch; o_accepted := v_count; o_fresh := v_fresh;
    DELETE FROM audit_stage;
    RETURN NEXT;
END
$fn$
"""
)
CALL_SQL = (
    "SELECT o_batch, o_accepted, o_fresh FROM pg_temp.audit_ingest("
    "%s, %s::json, %s, %s, %s, %s, %s, %s, %s, %s::json, %s::text[], %s, %s, %s::json)"
)
