"""Advancing MCP tasks from a batch's status reports: one locked read, one write per table.

Reports are applied in event-time order. A report that would move a task out of a terminal
state is recorded in the history with is_legal=false, the task is flagged and a Flag raised;
the task keeps its terminal status (MCP 2025-11-25 §Tasks: terminal tasks never change).
"""

from __future__ import annotations

from datetime import datetime

from inventory.models import Task
from inventory.services.flags import raise_flag

INSERT_NEW_SQL = """
INSERT INTO inventory_task (task_id, server_id, client_id, identity_id, grant_id, session_id,
    method, tool_name, status, status_message, created_at, last_updated_at, requested_ttl_ms,
    ttl_ms, ttl_unlimited, poll_interval_ms, protocol_version, flagged, flag_reason,
    owner_action, first_seen, last_seen, seen_from)
SELECT v.task_id, v.server_id, v.client_id, v.identity_id, v.grant_id, v.session_id, v.method,
    v.tool, v.status, v.message, v.created_at, v.updated_at, v.requested_ttl, v.ttl, v.unlimited,
    v.poll, v.protocol, false, '', '', v.seen, v.seen, 'events'
FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[],
            %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[],
            %s::bigint[], %s::bigint[], %s::boolean[], %s::bigint[], %s::text[], %s::timestamptz[])
  AS v(task_id, server_id, client_id, identity_id, grant_id, session_id, method, tool, status,
       message, created_at, updated_at, requested_ttl, ttl, unlimited, poll, protocol, seen)
ORDER BY coalesce(v.server_id, 0), v.task_id
ON CONFLICT ON CONSTRAINT task_natural_key DO NOTHING
RETURNING id
"""

LOCK_SQL = """
SELECT id, coalesce(server_id, 0), task_id, status, last_updated_at, last_seen, ttl_ms,
       ttl_unlimited, poll_interval_ms, status_message, flagged, flag_reason
FROM inventory_task
WHERE (coalesce(server_id, 0), task_id) IN (SELECT * FROM unnest(%s::bigint[], %s::text[]))
ORDER BY coalesce(server_id, 0), task_id
FOR UPDATE
"""

UPDATE_SQL = """
UPDATE inventory_task t SET status = v.status, status_message = v.message,
    last_updated_at = v.updated_at, last_seen = GREATEST(t.last_seen, v.seen), ttl_ms = v.ttl,
    ttl_unlimited = v.unlimited, poll_interval_ms = v.poll, flagged = v.flagged,
    flag_reason = v.reason
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[],
            %s::bigint[], %s::boolean[], %s::bigint[], %s::boolean[], %s::text[])
  AS v(id, status, message, updated_at, seen, ttl, unlimited, poll, flagged, reason)
WHERE t.id = v.id
"""

HISTORY_SQL = """
INSERT INTO inventory_taskstatuschange (task_id, from_status, to_status, at, status_message,
                                        is_legal, event_ref)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::text[],
                     %s::boolean[], %s::text[])
"""


def _ids(cursor, sql: str, keys: list) -> dict:
    if not keys:
        return {}
    cursor.execute(sql, [keys])
    return {row[1] if len(row) == 2 else tuple(row[1:]): row[0] for row in cursor.fetchall()}


def _lookups(cursor, reports: list[dict]) -> dict:
    """Inventory ids for the servers, clients, identities and grants the reports mention."""
    servers = sorted({r["server_name"] for r in reports if r["server_name"]})
    clients = sorted({r["client_ref"] for r in reports if r["client_ref"]})
    subjects = sorted({r["actor_subject"] for r in reports if r["actor_subject"]})
    grants = sorted({r["grant_id"] for r in reports if r["grant_id"]})
    return {
        "server": _ids(
            cursor, "SELECT id, name FROM inventory_server WHERE name = ANY(%s)", servers
        ),
        "client": _ids(
            cursor, "SELECT id, client_id FROM inventory_client WHERE client_id = ANY(%s)", clients
        ),
        "identity": _ids(
            cursor,
            "SELECT id, issuer, subject FROM inventory_identity WHERE subject = ANY(%s)",
            subjects,
        ),
        "grant": _ids(
            cursor,
            "SELECT id, external_id FROM inventory_grant WHERE external_id = ANY(%s)",
            grants,
        ),
    }


def _create_missing(cursor, first_reports: dict, ids: dict) -> set:
    """Insert tasks first seen in this batch (with their first status); returns the new ids."""
    rows = [(key, r) for key, r in first_reports.items() if r["status"]]
    if not rows:
        return set()
    cols = [[] for _ in range(18)]
    for (server_id, task_id), r in rows:
        values = (
            task_id,
            server_id or None,
            ids["client"].get(r["client_ref"]),
            ids["identity"].get((r["actor_issuer"], r["actor_subject"])),
            ids["grant"].get(r["grant_id"]),
            r["session_id"],
            r["method"] if r["creates"] else "",
            r["tool"] if r["creates"] else "",
            r["status"],
            r["status_message"],
            r["created_at"] or r["time"],
            r["last_updated_at"] or r["time"],
            r["requested_ttl_ms"],
            r["ttl_ms"],
            r["ttl_unlimited"],
            r["poll_interval_ms"],
            r["protocol_version"],
            r["time"],
        )
        for col, value in zip(cols, values):
            col.append(value)
    cursor.execute(INSERT_NEW_SQL, cols)
    return {row[0] for row in cursor.fetchall()}


def apply_task_reports(cursor, reports: list[dict]) -> int:
    """Create and advance the tasks these reports describe; returns illegal transitions seen."""
    if not reports:
        return 0
    ids = _lookups(cursor, reports)
    reports = sorted(reports, key=lambda r: (r["time"], r["ordinal"]))
    first: dict[tuple, dict] = {}
    for r in reports:
        first.setdefault((ids["server"].get(r["server_name"], 0), r["task_id"]), r)
    created = _create_missing(cursor, first, ids)
    keys = sorted(first)
    cursor.execute(LOCK_SQL, [[k[0] for k in keys], [k[1] for k in keys]])
    tasks = {(row[1], row[2]): _State(row) for row in cursor.fetchall()}
    history, illegal = [], []
    for r in reports:
        key = (ids["server"].get(r["server_name"], 0), r["task_id"])
        task = tasks.get(key)
        if task is None:
            continue  # never seen with a status: nothing to advance
        if task.id in created and first[key] is r:
            history.append(
                (task.id, "", r["status"], r["time"], r["status_message"], True, r["event_id"])
            )
            continue
        task.apply(r, history, illegal)
    _write(cursor, tasks.values(), history)
    for task, r in illegal:
        raise_flag(
            kind="task.illegal_transition",
            object_type="inventory.task",
            object_id=str(task.id),
            severity="high",
            summary=f"Task {r['task_id']} reported {r['status']} after terminal {task.status}",
            details={"event_id": r["event_id"]},
            at=r["time"],
        )
    return len(illegal)


class _State:
    """A locked task row being advanced in memory."""

    def __init__(self, row):
        (
            self.id,
            _,
            self.task_id,
            self.status,
            self.updated_at,
            self.seen,
            self.ttl,
            self.unlimited,
            self.poll,
            self.message,
            self.flagged,
            self.reason,
        ) = row
        self.dirty = False

    def apply(self, r: dict, history: list, illegal: list) -> None:
        self.dirty = True
        self.seen = max(self.seen, r["time"])
        if r["ttl_known"]:
            self.ttl, self.unlimited = r["ttl_ms"], r["ttl_unlimited"]
        self.poll = r["poll_interval_ms"] if r["poll_interval_ms"] is not None else self.poll
        new = r["status"]
        if not new:
            return
        at: datetime = r["last_updated_at"] or r["time"]
        if not Task.is_legal_transition(self.status, new):
            history.append(
                (self.id, self.status, new, r["time"], r["status_message"], False, r["event_id"])
            )
            self.flagged = True
            self.reason = f"{self.status} → {new} reported by event {r['event_id']}"[:1000]
            illegal.append((self, r))
            return
        if new != self.status:
            history.append(
                (self.id, self.status, new, r["time"], r["status_message"], True, r["event_id"])
            )
        self.status = new
        self.message = r["status_message"] or self.message
        self.updated_at = max(self.updated_at, at) if self.updated_at else at


def _write(cursor, tasks, history) -> None:
    dirty = [t for t in tasks if t.dirty]
    if dirty:
        cursor.execute(
            UPDATE_SQL,
            [
                [t.id for t in dirty],
                [t.status for t in dirty],
                [t.message for t in dirty],
                [t.updated_at for t in dirty],
                [t.seen for t in dirty],
                [t.ttl for t in dirty],
                [t.unlimited for t in dirty],
                [t.poll for t in dirty],
                [t.flagged for t in dirty],
                [t.reason for t in dirty],
            ],
        )
    if history:
        cursor.execute(HISTORY_SQL, [list(col) for col in zip(*history)])
