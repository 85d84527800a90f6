"""The plain shapes shared by the plan and the task steps (orphans.py): a planned step, and the
running tasks under what a revocation acts on. Here, not in plan.py, so orphans.py can build
steps without importing the plan that imports it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from inventory.models import Task

CALL, LOCAL, TASK, VERIFY = "call", "local", "task", "verify"


@dataclass(frozen=True)
class PlannedStep:
    """A step before it is a row: RevocationStep's kind, operation, connection id and target.
    `skip_reason` set: the step is created "skipped" with that reason (shown on the plan)."""

    kind: str
    operation: str
    description: str
    connection_id: int | None = None
    target: dict = field(default_factory=dict)
    skip_reason: str = ""


def running_tasks(grant_ids=(), client_ids=(), identity_ids=()) -> QuerySet:
    """Tasks still working or waiting for input under the grants, clients or identities."""
    where = Q(grant_id__in=list(grant_ids) or [0])
    where |= Q(client_id__in=list(client_ids) or [0]) | Q(identity_id__in=list(identity_ids) or [0])
    return Task.objects.running().filter(where)
