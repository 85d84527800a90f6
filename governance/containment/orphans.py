"""Tasks outlive grants (issue 13 §4): the task steps of a revocation and how each runs.

A revocation's plan ends with, when tasks are still `working` or `input_required` under what
it revokes:
1. one "mark_orphaned" step: every such task is marked orphaned by the revocation;
2. per event source that reported some of them and declares a cancel hook, one "cancel_tasks"
   step: the console POSTs their ids, signed, and the gateway sends `tasks/cancel` in the
   session (governance/containment/cancel_hook.py);
3. for the rest, per owner, one "needs_owner_action" step naming whom to contact.
The runner (governance/containment/runner.py) calls `run_task_step` for each; it raises
`TaskStepError` when a step fails, saying whether another attempt may succeed.
"""

from __future__ import annotations

from collections import defaultdict

from audit.models import EventSource
from audit.queries_tasks import sources_of_tasks
from governance.containment.cancel_hook import call_cancel_hook
from governance.containment.steps import TASK, PlannedStep, running_tasks
from inventory.services import task_orphans

KIND = TASK
MARK, CANCEL, OWNER = "mark_orphaned", "cancel_tasks", "needs_owner_action"


class TaskStepError(Exception):
    """A task step that failed: `retryable` when another attempt may succeed (no answer, 5xx,
    429), not when the gateway refused (4xx). `summary` is the answer, for the step's record;
    `retry_after` the seconds the gateway asked for, if it did."""

    def __init__(
        self,
        message: str,
        retryable: bool,
        *,
        summary: dict | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.summary = summary or {}
        self.retry_after = retry_after


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def task_steps(*, grant_ids=(), client_ids=(), identity_ids=()) -> list[PlannedStep]:
    """The steps for the tasks still running under these grants, clients or identities (none
    when there are none): mark all orphaned, then cancel through hooks, else ask owners."""
    # The plan's definition of running (steps.running_tasks), so the confirm page's count is
    # the number of tasks these steps act on.
    tasks = list(
        task_orphans.with_owner_relations(
            running_tasks(grant_ids, client_ids, identity_ids).order_by("pk")
        )
    )
    if not tasks:
        return []
    source_of = sources_of_tasks(t.pk for t in tasks)
    hooks = {
        s.pk: s
        for s in EventSource.objects.filter(pk__in=set(source_of.values()))
        .exclude(cancel_hook_url="")
        .exclude(cancel_hook_secret_encrypted="")
    }
    by_hook, by_owner, contacts = defaultdict(list), defaultdict(list), {}
    for task in tasks:
        source_id = source_of.get(task.pk)
        if source_id in hooks:
            by_hook[source_id].append(task)
        else:
            contact = task_orphans.owner_contact(task)
            contacts[contact.key] = contact.label
            by_owner[contact.key].append(task)
    needs_owner = sorted(t.pk for group in by_owner.values() for t in group)
    steps = [
        PlannedStep(
            kind=KIND,
            operation=MARK,
            description=f"Mark {_plural(len(tasks), 'running task')} orphaned",
            target={"task_ids": [t.pk for t in tasks], "needs_owner": needs_owner},
        )
    ]
    for source_id in sorted(by_hook):
        steps.append(_cancel_step(hooks[source_id], by_hook[source_id]))
    for key in sorted(by_owner):
        group = by_owner[key]
        steps.append(
            PlannedStep(
                kind=KIND,
                operation=OWNER,
                description=(
                    f"{_plural(len(group), 'task')} need their owner's action: "
                    f"contact {contacts[key]}"
                )[:300],
                target={"owner": key, "contact": contacts[key], "task_ids": [t.pk for t in group]},
            )
        )
    return steps


def _cancel_step(source: EventSource, tasks: list) -> PlannedStep:
    """One cancel-hook call for the tasks `source` reported. The tasks as the gateway knows
    them are fixed here, so every attempt sends the same body under the same webhook-id."""
    return PlannedStep(
        kind=KIND,
        operation=CANCEL,
        description=(f"Ask {source.name} to cancel {_plural(len(tasks), 'task')} (cancel hook)")[
            :300
        ],
        target={
            "source_id": source.pk,
            "task_ids": [t.pk for t in tasks],
            "tasks": [
                {
                    "task_id": t.task_id,
                    "session_id": t.session_id,
                    "server": t.server.name if t.server else "",
                }
                for t in tasks
            ],
        },
    )


def run_task_step(step, revocation) -> dict:
    """Run one task step (a RevocationStep, or anything with operation, target and position)
    of `revocation`; returns the response summary for the step's record."""
    target = step.target or {}
    if step.operation == MARK:
        marked = task_orphans.mark_orphaned(
            task_ids=target.get("task_ids", []),
            revocation_id=revocation.pk,
            needs_owner_ids=target.get("needs_owner", []),
        )
        return {"marked": marked}
    if step.operation == CANCEL:
        return _cancel(step, revocation, target)
    if step.operation == OWNER:
        task_orphans.set_owner_action(
            task_ids=target.get("task_ids", []), action=task_orphans.NEEDS_OWNER_ACTION
        )
        return {"contact": target.get("contact", ""), "tasks": len(target.get("task_ids", []))}
    raise TaskStepError(f"unknown task operation {step.operation!r}", retryable=False)


def webhook_id(step, revocation) -> str:
    """The step's idempotency key: the same on every attempt (Standard Webhooks ids carry no
    dots: the id is part of the signed `id.timestamp.body`)."""
    return f"msg_revocation_{revocation.pk}_step_{step.position}"


def _cancel(step, revocation, target: dict) -> dict:
    task_ids = target.get("task_ids", [])
    source = EventSource.objects.filter(pk=target.get("source_id")).first()
    if source is None or not source.cancel_hook_url or not source.cancel_hook_secret_encrypted:
        task_orphans.set_owner_action(task_ids=task_ids, action=task_orphans.CANCEL_FAILED)
        raise TaskStepError(
            "the event source no longer has a cancel hook: the tasks need their owner's action",
            retryable=False,
        )
    msg_id = webhook_id(step, revocation)
    payload = {
        "type": "tasks.cancel",
        "revocation": revocation.pk,
        "tasks": target.get("tasks", []),
        "reason": revocation.reason,
    }
    answer = call_cancel_hook(source, msg_id=msg_id, payload=payload)
    summary = {"webhook_id": msg_id, "source": source.name, "status": answer.status}
    if answer.ok:
        accepted = answer.cancelled is not None
        task_orphans.set_owner_action(
            task_ids=task_ids,
            action=task_orphans.CANCEL_ACCEPTED if accepted else task_orphans.CANCEL_REQUESTED,
        )
        return {**summary, "cancelled": answer.cancelled} if accepted else summary
    # Until a later attempt succeeds, the page says the cancel failed (and whom to contact).
    task_orphans.set_owner_action(task_ids=task_ids, action=task_orphans.CANCEL_FAILED)
    summary["answer"] = answer.body or answer.reason
    said = f"HTTP {answer.status}" if answer.status is not None else answer.reason
    raise TaskStepError(
        f"cancel hook of {source.name}: {said}" + (f": {answer.body}" if answer.body else ""),
        retryable=answer.retryable,
        summary=summary,
        retry_after=answer.retry_after,
    )
