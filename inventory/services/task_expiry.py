"""Flagging tasks that are still running after their TTL, and closing those flags.

A task whose TTL has elapsed may already be deleted by its server (MCP 2025-11-25 §Tasks), so
it will probably never report a terminal status: it is shown as expired (Task.is_past_ttl) and
flagged here for someone to look at. The sweep is set-based and idempotent, so beat can run it
as often as it likes and two overlapping runs do no harm. Its flags close on its next run
after the task reports a terminal status (the page shows the status at once: "expired" is
computed on every read, not stored).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast
from django.utils import timezone

from inventory.models import Flag, Task
from inventory.services.flags import TASK_PAST_TTL

RESOLVED_BY = "task-expiry sweep"


def _open_flags():
    return Flag.objects.open().filter(kind=TASK_PAST_TTL, object_type="inventory.task")


@transaction.atomic
def sweep_tasks_past_ttl(
    *, now: datetime | None = None, severity: str = Flag.Severity.WARNING
) -> dict[str, int]:
    """Open one flag per task past its TTL that has none; close the flags of tasks that are no
    longer past it (they reached a terminal status, or a later report extended the TTL).
    `severity` is the rule's (an Admin may change it: inventory/services/rule_settings.py)."""
    now = now or timezone.now()
    past = Task.objects.past_ttl(now)
    unflagged = past.exclude(
        Exists(_open_flags().filter(object_id=Cast(OuterRef("pk"), CharField())))
    )
    flags = [_flag(task, now, severity) for task in unflagged.select_related("server")]
    # ON CONFLICT DO NOTHING on the one-open-flag index: a concurrent sweep's flag wins.
    raised = len(Flag.objects.bulk_create(flags, ignore_conflicts=True))
    resolved = (
        _open_flags()
        .exclude(object_id__in=past.annotate(key=Cast("pk", CharField())).values("key"))
        .update(
            resolved_at=now,
            resolved_by=RESOLVED_BY,
            status=Flag.Status.RESOLVED,
            resolution=Flag.Resolution.CLEARED,
        )
    )
    return {"raised": raised, "resolved": resolved}


def _flag(task: Task, now: datetime, severity: str) -> Flag:
    where = f" on {task.server.name}" if task.server else ""
    return Flag(
        kind=TASK_PAST_TTL,
        severity=severity,
        object_type="inventory.task",
        object_id=str(task.pk),
        object_repr=str(task)[:500],
        summary=f"Task {task.task_id}{where} still {task.status} after its TTL"[:500],
        details={
            "status": task.status,
            "expires_at": task.expires_at.isoformat(),
            "ttl_ms": task.ttl_ms,
        },
        raised_at=now,
        last_raised_at=now,
    )
