"""The append-only, time-partitioned events table, the exactly-once key and the chain head.

Raw SQL because Django cannot declare partitioning. Why each piece exists:
- `audit_event` is partitioned by month on `time`; its primary key must contain `time`, so it
  cannot enforce "one (source, event id)" across partitions. `audit_event_dedup` (not
  partitioned) holds that key: an event is stored only if its dedup row was inserted.
- `payload` is `json`, not `jsonb`: it keeps the text as ingested, so hashing it needs no
  re-serialisation (jsonb output cost ~10 us per event) and input is only validated, not
  rebuilt. Queries filter on the extracted columns, never inside the payload.
- The trigger refuses UPDATE/DELETE from the app: events leave only when retention drops a
  whole partition (DDL, not a DELETE).
- `audit_rate_window` is UNLOGGED: request counters may be lost in a crash, and that is fine.
"""

from django.db import migrations

FORWARD = r"""
CREATE SEQUENCE audit_event_id_seq AS bigint;

CREATE TABLE audit_event (
    id bigint NOT NULL DEFAULT nextval('audit_event_id_seq'),
    time timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    source_id bigint NOT NULL,
    batch_id bigint NOT NULL,
    event_id text NOT NULL,
    type text NOT NULL,
    actor_issuer text NOT NULL DEFAULT '',
    actor_subject text NOT NULL DEFAULT '',
    client_ref text NOT NULL DEFAULT '',
    server_name text NOT NULL DEFAULT '',
    method text NOT NULL DEFAULT '',
    tool text NOT NULL DEFAULT '',
    task_id text NOT NULL DEFAULT '',
    session_id text NOT NULL DEFAULT '',
    outcome text NOT NULL DEFAULT '',
    duration_ms double precision,
    redacted boolean NOT NULL DEFAULT false,
    payload json NOT NULL,
    PRIMARY KEY (time, id)
) PARTITION BY RANGE (time);
ALTER SEQUENCE audit_event_id_seq OWNED BY audit_event.id;

CREATE INDEX audit_event_source_time ON audit_event (source_id, time);
CREATE INDEX audit_event_actor_time ON audit_event (actor_subject, time);
CREATE INDEX audit_event_batch ON audit_event (batch_id);

CREATE TABLE audit_event_dedup (
    source_id bigint NOT NULL,
    event_id text NOT NULL,
    time timestamptz NOT NULL,
    PRIMARY KEY (source_id, event_id)
);

CREATE UNLOGGED TABLE audit_rate_window (
    source_id bigint NOT NULL,
    window_start timestamptz NOT NULL,
    requests integer NOT NULL,
    PRIMARY KEY (source_id, window_start)
);

CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();

-- Monthly partitions in UTC. The advisory lock makes two concurrent creators of the same
-- month wait for each other instead of failing on "relation already exists".
CREATE FUNCTION audit_ensure_partition(day timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    m timestamp := date_trunc('month', day AT TIME ZONE 'UTC');
    part text := format('audit_event_p%s', to_char(m, 'YYYYMM'));
BEGIN
    IF to_regclass(part) IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('audit_event_partitions'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF audit_event FOR VALUES FROM (%L) TO (%L)',
                           part, m AT TIME ZONE 'UTC', (m + interval '1 month') AT TIME ZONE 'UTC');
        END IF;
    END IF;
    RETURN part;
END $$;

SELECT audit_ensure_partition(now() + make_interval(months => n)) FROM generate_series(-1, 2) AS n;

INSERT INTO audit_chainhead (id, seq, digest, batch_id)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', NULL);
"""

BACKWARD = r"""
DELETE FROM audit_chainhead;
DROP FUNCTION audit_ensure_partition(timestamptz);
DROP TABLE audit_event;
DROP FUNCTION audit_event_refuse_change();
DROP TABLE audit_event_dedup;
DROP TABLE audit_rate_window;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_sources_batches_chain_rollups")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
