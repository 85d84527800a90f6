"""Tasks that outlive a revocation (issue 13 §4): the task steps of a plan and running them.

A minimal body: running MCP tasks under a revoked grant, client or identity are marked orphaned
and "needs owner action". The cancel hook (POST the task ids to the event source's gateway,
signed) replaces this body; the two signatures below are the interface the plan and the runner
use, and stay.
"""

from __future__ import annotations

from django.utils import timezone

from governance.containment.steps import PlannedStep, running_tasks
from inventory.models import Task


class TaskStepError(Exception):
    """A task step that failed; `retryable` as ConnectorError.retryable."""

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def task_steps(*, grant_ids, client_ids, identity_ids) -> list[PlannedStep]:
    """The task steps of a plan (kind "task"): one that marks the running tasks orphaned."""
    task_ids = list(
        running_tasks(grant_ids, client_ids, identity_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not task_ids:
        return []
    return [
        PlannedStep(
            "task",
            "mark_orphaned",
            f"Mark {len(task_ids)} running task(s) orphaned (their owner must act)",
            None,
            {"task_ids": task_ids},
        )
    ]


def run_task_step(step, revocation) -> dict:
    """Run one task step; the summary of what it did (stored as the step's response)."""
    if step.operation != "mark_orphaned":
        raise TaskStepError(f"unknown task step {step.operation!r}")
    ids = step.target.get("task_ids") or []
    marked = Task.objects.filter(pk__in=ids, orphaned_at__isnull=True).update(
        orphaned_at=timezone.now(),
        orphaned_by_revocation=revocation.pk,
        owner_action="needs_owner_action",
    )
    return {"tasks": len(ids), "marked_orphaned": marked}
