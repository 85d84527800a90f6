"""The one definition of an event row's canonical text, hashed at ingest and at verification.

An inline SQL expression (not a SQL function: a whole-row function argument builds a composite
datum per row, which doubled the cost). Its rendering of timestamps and floats depends on
TimeZone, DateStyle and extra_float_digits, so both users pin them first: verification
per transaction (`PIN_SETTINGS`), ingestion once per connection (session level).
"""

CANON_COLUMNS = (
    "id",
    "time",
    "received_at",
    "source_id",
    "batch_id",
    "event_id",
    "type",
    "actor_issuer",
    "actor_subject",
    "client_ref",
    "server_name",
    "method",
    "tool",
    "task_id",
    "session_id",
    "outcome",
    "duration_ms",
    "redacted",
    "payload",
)
PIN_SETTINGS = (
    "SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true), "
    "set_config('extra_float_digits', '1', true)"
)


def canon_sql(alias: str) -> str:
    """`concat_ws(chr(31), alias.id, alias.time, …, alias.payload)` as SQL text."""
    parts = ", ".join(f"coalesce({alias}.{col}::text, '')" for col in CANON_COLUMNS)
    return f"concat_ws(chr(31), {parts})"
