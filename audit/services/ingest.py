"""Ingesting a batch of canonical events: validate, redact, dedup, store, chain, derive.

One transaction per batch, set-based throughout (see docs/ingest.md for the numbers):
1. validate + redact each event in plain Python (errors go to `rejected`, the rest go on);
2. stage the batch in the session's temp table `audit_stage` (all of steps 2-5 are one call of the
   session-local function `pg_temp.audit_ingest`, one round trip; its SQL: ingest_sql.py);
3. one statement inserts the dedup keys (ON CONFLICT DO NOTHING), drops the duplicates from the
   stage, inserts the new events and returns their count and the sha256 of their stored rows;
4. derived inventory state and hourly rollups from the stage (INSERT … SELECT … GROUP BY),
   the "used after revocation" flags once anything has been revoked, the finding rules of the
   ingest path (calls of blocked or deleted things, new and badly named tools:
   inventory/services/derive_event_rules.py), and the MCP protocol features of the few events
   that carry some (inventory/services/derive_protocol.py);
5. the batch row with its content hash; after the commit the batch is sealed into the chain
   (audit/services/seal.py) in a short transaction of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import psycopg.errors
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from audit.services import fresh_tools, group_commit, partitions, seal
from audit.services.fast_validation import FastEvent, protocol_reports, stage_row
from audit.services.ingest_sql import (
    CALL_SQL,
    COPY_SQL,
    FUNCTION_DDL,
    SESSION_SETTINGS,
    STAGE_DDL,
)
from audit.services.server_join import SERVER_URL, join_servers_by_url
from audit.services.validation import STAGE_COLUMNS, Limits, normalize_event
from inventory.services.derive import apply_task_reports
from inventory.services.derive_protocol import PROTOCOL_STAGE_DDL

log = logging.getLogger(__name__)

# Not ON COMMIT DELETE ROWS: that truncates the table (and its TOAST table and index) at every
# commit, and the truncation invalidates the cached plans of every statement of
# pg_temp.audit_ingest, so each one-event request re-planned ten statements (~0.3 ms of the
# database's ~1.4 ms per request). The function deletes its rows instead, and the dead rows
# are truncated away outside a batch every STAGE_TRUNCATE_ROWS staged rows.
STAGE_TRUNCATE_ROWS = 500
# Up to this many rows a batch travels as one JSON parameter of the function call (one round
# trip, autocommit); beyond it COPY into the stage is cheaper than building and parsing JSON.
JSON_MAX_ROWS = 50


RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    batch_id: int | None = None


def current_limits() -> Limits:
    return Limits(
        now=datetime.now(UTC),
        max_age_days=settings.AUDIT_MAX_EVENT_AGE_DAYS,
        max_skew_seconds=settings.AUDIT_MAX_CLOCK_SKEW_SECONDS,
        max_event_bytes=settings.AUDIT_MAX_EVENT_BYTES,
    )


def _rejected_id(raw):
    """The id to echo for a rejected event. A lone surrogate (a `\\ud800` escape is valid JSON)
    cannot be written in the UTF-8 answer: it becomes U+FFFD, or the answer, written after the
    commit, failed and contradicted what was stored."""
    value = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(value, str):
        return None
    value = value[:300]
    try:
        value.encode()
    except UnicodeEncodeError:
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _check(raw, ordinal: int, limits: Limits):
    """normalize_event, with an unforeseen failure rejecting this event only (and logged as
    the bug it is) instead of failing its whole batch."""
    try:
        return normalize_event(raw, ordinal=ordinal, limits=limits)
    except Exception:  # noqa: BLE001 - one event's bug must not lose the events beside it
        log.exception("ingest: an event could not be checked")
        return None, None, {"event": "could not be checked (an internal error, logged)"}


def prepare(events: list, result: IngestResult, limits: Limits | None = None) -> tuple[list, list]:
    """Valid, redacted stage rows (first occurrence of each id) and their task and protocol
    reports (protocol ones carry a `kind`).
    `events` holds dicts (checked here) and FastEvents (audit/services/fast_validation.py);
    `limits` are those the FastEvents were checked with, so both paths judge by one clock."""
    limits = limits if limits is not None else current_limits()
    rows, reports, seen, by_host = [], [], set(), []
    for index, raw in enumerate(events):
        fast = type(raw) is FastEvent
        if fast:  # already checked by the compiled fast path
            row, task_reports, errors = stage_row(raw, len(rows)), (), None
            if raw.protocol:
                task_reports = protocol_reports(raw, row)
        else:
            row, task_reports, errors = _check(raw, len(rows), limits)
        if errors:
            result.rejected.append({"index": index, "id": _rejected_id(raw), "errors": errors})
        elif row[1] in seen:
            result.duplicates += 1  # the same id twice in one batch is stored once
        else:
            seen.add(row[1])
            if row[SERVER_URL] and not (
                raw.event.server.name if fast else raw["server"].get("name")
            ):
                by_host.append(len(rows))  # a server known only by URL, named after its host
            rows.append(row)
            reports.extend(task_reports)
    if by_host:
        join_servers_by_url(rows, reports, by_host)
    return rows, reports


def ingest_events(*, source, events: list[dict], limits: Limits | None = None) -> IngestResult:
    """Validate, redact, dedup (source, id), store, chain and derive state, in one transaction."""
    result = IngestResult()
    rows, reports = prepare(events, result, limits)
    if not rows:
        return result
    partitions.ensure_for_times(row[2] for row in rows)
    if _groupable(rows, reports):
        accepted = group_commit.submit(source.pk, rows, reports, _store_with_retries)
        batch_id = None
    else:
        accepted, batch_id, _ = _store_with_retries(source.pk, rows, False, reports)
        if accepted:
            seal.seal_after_ingest(in_transaction=connection.in_atomic_block)
    result.accepted = accepted
    result.duplicates += len(rows) - accepted
    result.batch_id = batch_id
    return result


def _groupable(rows: list, reports: list) -> bool:
    """Small batches, outside a caller's transaction, share commits with the concurrent
    requests of this process (audit/services/group_commit.py)."""
    return (
        settings.AUDIT_GROUP_COMMIT
        and len(rows) <= JSON_MAX_ROWS
        and not connection.in_atomic_block
    )


def _store_with_retries(
    source_id: int, rows: list, want_fresh: bool, reports: list = ()
) -> tuple[int, int | None, list | None]:
    """`_store`, retried after a deadlock or serialization failure, and after making a
    partition that was dropped or never made."""
    connection.ensure_connection()
    for attempt in range(4):
        try:
            _ensure_stage()
            return _store(source_id, rows, list(reports), want_fresh=want_fresh)
        except DatabaseError as exc:
            cause = exc.__cause__
            if isinstance(cause, psycopg.errors.CheckViolation) and "partition" in str(cause):
                partitions.forget_cache()  # a partition was dropped or never made: make it
                partitions.ensure_for_times(row[2] for row in rows)
            elif not isinstance(cause, RETRYABLE) or attempt == 3 or connection.in_atomic_block:
                raise
            log.info("ingest batch retried after %s", type(cause).__name__)
    raise AssertionError("unreachable")  # pragma: no cover


# Stage positions of the values that decide which derived statements a batch needs.
_ACTOR, _KIND, _CLIENT, _SERVER, _URL, _GRANT = (
    STAGE_COLUMNS.index(name)
    for name in (
        "actor_subject",
        "actor_kind",
        "client_ref",
        "server_name",
        "server_url",
        "grant_id",
    )
)


def _derive_flags(rows: list) -> list[bool]:
    """Which derived statements the batch needs: (actor, client, server, server URL, grant).
    The grant statement also runs for a batch that may show a grant the ledger lacks
    (inventory/services/derive.py): a machine-to-machine call (the client as service actor) or
    an event with a delegation chain or a grant object (a substring test of its JSON text;
    a false positive only costs the statement)."""
    flags = [False] * 5
    actor, kind, client, server, url, grant = _ACTOR, _KIND, _CLIENT, _SERVER, _URL, _GRANT
    for row in rows:  # locals above: hot loop
        flags[0] = flags[0] or bool(row[actor])
        flags[1] = flags[1] or bool(row[client])
        flags[2] = flags[2] or bool(row[server])
        flags[3] = flags[3] or bool(row[url])
        flags[4] = flags[4] or bool(
            row[grant]
            or (row[kind] == "service" and row[client] and row[actor] == row[client])
            or '"delegation"' in row[-1]
            or '"grant"' in row[-1]
        )
        if all(flags):
            break
    return flags


def _ensure_stage() -> None:
    """The session's temp staging table: created once per database connection.

    Inside a caller's transaction it is (re)declared and emptied every time: a rollback there
    may undo its creation, and rows of an earlier batch in the same transaction remain.
    """
    raw, in_transaction = connection.connection, connection.in_atomic_block
    if in_transaction or getattr(raw, "_audit_stage_ready", False) is not True:
        with connection.cursor() as cursor:
            cursor.execute(SESSION_SETTINGS)
            cursor.execute(STAGE_DDL)
            cursor.execute(PROTOCOL_STAGE_DDL)
            cursor.execute(FUNCTION_DDL)
            if in_transaction:
                cursor.execute("DELETE FROM audit_stage")
                cursor.execute("DELETE FROM audit_protocol")
        raw._audit_stage_ready, raw._audit_stage_rows = not in_transaction, 0
    elif raw._audit_stage_rows >= STAGE_TRUNCATE_ROWS:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE audit_stage, audit_protocol")
        raw._audit_stage_rows = 0


def _store(
    source_id: int, rows: list, reports: list, *, want_fresh: bool = False
) -> tuple[int, int | None, list | None]:
    """Steps 2-5 of the module docstring in one call of `pg_temp.audit_ingest`. Returns
    (events stored, batch id, the stored rows' ordinals when `want_fresh` or task reports
    need them).

    A small batch without task reports, outside a caller's transaction, is passed as a JSON
    parameter and the call runs in autocommit: one statement, one round trip, and its implicit
    transaction commits durably (synchronous_commit is on for the session). Larger batches are
    COPYed into the stage first (cheaper per row than JSON on both sides, and no second copy of
    the batch in memory), and task reports need Python between statements: those run inside a
    transaction.
    """
    raw = connection.connection
    raw._audit_stage_rows = getattr(raw, "_audit_stage_rows", 0) + len(rows)  # dead rows left
    # Task status reports need Python between statements; protocol reports (they carry a
    # `kind`) travel into the function as one JSON parameter (derive_protocol.py).
    protocol = [r for r in reports if "kind" in r]
    if protocol:
        reports = [r for r in reports if "kind" not in r]
    stale_tools = fresh_tools.stale_pairs(rows) if settings.FINDINGS_EVENT_RULES else {}
    tools_needed = bool(stale_tools)
    # Remembered once committed: only when this call's transaction is its own.
    remember = tools_needed and not connection.in_atomic_block
    flags = [
        *_derive_flags(rows),
        bool(reports) or want_fresh,
        # The clock skew allowed before a use after revocation is flagged (derive_revoked).
        float(settings.CONTAINMENT_CLOCK_SKEW_SECONDS),
        orjson.dumps(protocol).decode() if protocol else None,
        sorted({r["kind"] for r in protocol}),
        # The finding rules of the ingest path (inventory/services/derive_event_rules.py).
        settings.FINDINGS_EVENT_RULES,
        tools_needed,
        # Which (server, tool) pairs the tool statement reads: those not fresh (fresh_tools).
        orjson.dumps([list(pair) for pair in stale_tools]).decode() if tools_needed else None,
    ]
    if len(rows) <= JSON_MAX_ROWS and not reports and not connection.in_atomic_block:
        with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            cursor.execute(CALL_SQL, [source_id, _rows_json(rows), *flags])
            batch_id, accepted, fresh = cursor.fetchone()
        if remember and accepted == len(rows):
            fresh_tools.remember(stale_tools)
        return accepted, batch_id, fresh
    with transaction.atomic():
        with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            if len(rows) <= JSON_MAX_ROWS:
                cursor.execute(CALL_SQL, [source_id, _rows_json(rows), *flags])
            else:
                with cursor.copy(COPY_SQL) as copy:
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(CALL_SQL, [source_id, None, *flags])
            batch_id, accepted, fresh = cursor.fetchone()
            if accepted and reports:
                if accepted < len(rows):
                    fresh = set(fresh or ())
                    reports = [r for r in reports if r["ordinal"] in fresh]
                apply_task_reports(cursor, reports)
    if remember and accepted == len(rows):
        fresh_tools.remember(stale_tools)
    return accepted, batch_id, fresh


def _rows_json(rows: list) -> str:
    """The stage rows as one JSON array of objects (json_populate_recordset's input); the
    payload, already JSON text, is embedded as is (no re-serialisation)."""
    payload = len(STAGE_COLUMNS) - 1
    return orjson.dumps(
        [
            {**dict(zip(STAGE_COLUMNS[:payload], row)), "payload": orjson.Fragment(row[payload])}
            for row in rows
        ]
    ).decode()
