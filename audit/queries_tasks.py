"""Which event source reported a task: the gateway that can still reach its session.

Tasks are derived from audit events (inventory/services/derive_tasks.py) and do not store the
source: the ingest hot path stays as it is. Each status change keeps the id of the event that
reported it (`TaskStatusChange.event_ref`) and its time, and the event store is indexed on
(source, time), so the latest change of each task finds its event with one index probe per
source and partition. This runs when a revocation plans what to do with a task, not per event.
"""

from __future__ import annotations

from django.db import connection

# The latest status change that names an event, per task; then the source that sent an event
# with that id at that time (an event id is unique per source only, hence the time as well).
TASK_SOURCES_SQL = """
SELECT h.task_id, (
    SELECT e.source_id FROM audit_eventsource s
    JOIN audit_event e ON e.source_id = s.id AND e.time = h.at AND e.event_id = h.event_ref
    ORDER BY e.received_at DESC, e.id DESC LIMIT 1)
FROM (SELECT DISTINCT ON (task_id) task_id, at, event_ref FROM inventory_taskstatuschange
      WHERE task_id = ANY(%s) AND event_ref <> '' ORDER BY task_id, at DESC, id DESC) h
"""


def sources_of_tasks(task_ids) -> dict[int, int]:
    """{task pk: the id of the event source that last reported its status}; tasks with no
    event behind them (created by hand, or their events aged out) are absent."""
    task_ids = sorted({int(pk) for pk in task_ids})
    if not task_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(TASK_SOURCES_SQL, [task_ids])
        return {task: source for task, source in cursor.fetchall() if source is not None}
