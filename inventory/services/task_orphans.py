"""Tasks that outlive a revocation: marking them orphaned, and whom to contact.

MCP Tasks keep running on their server after the grant, client or identity that started them is
revoked (issue 13 §4). Governance's containment decides what to do about them and calls these
with plain ids (inventory does not import governance): the revocation's id is stored as a
number on the task, and the task pages link to it by URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from inventory.models import RUNNING_TASK_STATUSES, Identity, Task

# Task.owner_action values (the model's choices).
CANCEL_REQUESTED = "cancel_requested"
CANCEL_ACCEPTED = "cancel_accepted"
CANCEL_FAILED = "cancel_failed"
NEEDS_OWNER_ACTION = "needs_owner_action"


@transaction.atomic
def mark_orphaned(
    *,
    task_ids,
    revocation_id: int,
    needs_owner_ids=(),
    at: datetime | None = None,
) -> int:
    """Mark these tasks orphaned by the revocation; `needs_owner_ids` (tasks whose source has
    no cancel hook) also get "needs owner action". A task already orphaned keeps its first
    revocation and time (a second revocation does not rewrite history). Only tasks still
    running are touched. Returns how many rows were updated; running it twice is harmless."""
    at = at or timezone.now()
    tasks = Task.objects.filter(pk__in=list(task_ids), status__in=RUNNING_TASK_STATUSES)
    updated = tasks.update(
        orphaned_at=Coalesce("orphaned_at", at),
        orphaned_by_revocation=Coalesce("orphaned_by_revocation", revocation_id),
    )
    if needs_owner_ids:
        set_owner_action(task_ids=needs_owner_ids, action=NEEDS_OWNER_ACTION)
    return updated


def set_owner_action(*, task_ids, action: str) -> int:
    """Record what was done (or must be done) about these orphaned tasks."""
    if action not in {c[0] for c in Task._meta.get_field("owner_action").choices}:
        raise ValueError(f"owner_action: {action!r} is not one of the task's choices")
    return Task.objects.filter(pk__in=list(task_ids)).update(owner_action=action)


@dataclass(frozen=True)
class OwnerContact:
    """Whom to ask to stop a task: `key` groups tasks with one owner, `label` is shown."""

    key: str
    label: str


def _person(identity: Identity) -> str:
    name = identity.display_name or identity.subject
    return f"{name} <{identity.email}>" if identity.email else name


def owner_contact(task: Task) -> OwnerContact:
    """The owner of the task's client, else the identity's owner, sponsor or manager, else the
    identity itself by email: who can stop the task in the session when the console cannot.
    Reads task.client.owner and task.identity's relations (select them first for a list)."""
    client, identity = task.client, task.identity
    if client is not None and client.owner is not None:
        return OwnerContact(
            f"identity:{client.owner_id}", f"{_person(client.owner)} (owner of {client})"
        )
    if identity is not None:
        for relation in ("owner", "sponsor", "manager"):
            person = getattr(identity, relation)
            if person is not None:
                return OwnerContact(
                    f"identity:{person.pk}", f"{_person(person)} ({relation} of {identity})"
                )
        if identity.email:
            return OwnerContact(f"identity:{identity.pk}", f"{_person(identity)} (the identity)")
    return OwnerContact("unknown", "nobody on record: no client owner, manager or email")


def with_owner_relations(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """`tasks` with what owner_contact reads, in one query."""
    return tasks.select_related(
        "server",
        "client__owner",
        "identity__owner",
        "identity__sponsor",
        "identity__manager",
    )
