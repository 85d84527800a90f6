"""Reads for the revocation pages and the API: the list (one ListSpec for the page's filters, the
API's filters and the OpenAPI parameters), a revocation with its steps, the tasks it orphaned and
the "used after revocation" flags raised against it.

(Kept apart from queries.py, which holds the runner's and the proof's reads.)
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Count, Q, QuerySet

from governance.access.lists.filters import Filter, ListSpec, filtered
from governance.containment.models import Revocation, RevocationStep
from inventory.models import Flag, Task

REVOCATION_SPEC = ListSpec(
    search=("reason", "target_key", "requested_by"),
    filters=(
        Filter("action", "action", choices=tuple(Revocation.Action.choices), label="Action"),
        Filter(
            "outcome",
            "outcome",
            choices=tuple((v, label) for v, label in Revocation.Outcome.choices if v),
            label="Outcome",
        ),
        Filter("status", "status", choices=tuple(Revocation.Status.choices), label="Run"),
        Filter("grant", "grant_id", kind="id", label="Grant"),
        Filter("identity", "identity_id", kind="id", label="Identity"),
        Filter("client", "client_id", kind="id", label="Client"),
    ),
    sorts={"queued": "queued_at", "finished": "finished_at", "action": "action"},
    default_sort="-queued",
)


def revocation_rows(params: Mapping) -> QuerySet:
    """Revocations, newest first, REVOCATION_SPEC applied, with their targets and step counts."""
    rows = Revocation.objects.select_related("actor", "grant", "identity", "client").annotate(
        step_count=Count("steps"),
        # Acting steps that failed or were skipped: what made the outcome short of "done".
        failed_steps=Count(
            "steps",
            filter=Q(steps__state__in=[RevocationStep.State.FAILED, RevocationStep.State.SKIPPED])
            & ~Q(steps__kind=RevocationStep.Kind.VERIFY),
        ),
    )
    return filtered(REVOCATION_SPEC, rows, params)


def steps_of(revocation: Revocation) -> QuerySet:
    """The steps in the order they run, with the IdP connection each calls."""
    return revocation.steps.select_related("connection").order_by("position")


def orphaned_tasks(revocation: Revocation) -> QuerySet:
    """Tasks still running when this revocation cut their grant, client or identity."""
    return (
        Task.objects.filter(orphaned_by_revocation=revocation.pk)
        .select_related("server", "client__owner", "identity__owner", "grant")
        .order_by("-created_at", "-id")
    )


def used_after_flags(revocation: Revocation) -> QuerySet:
    """The "used after revocation" flags the watcher raised and linked to this revocation."""
    return Flag.objects.filter(details__revocation=revocation.pk).order_by("-last_raised_at", "-id")


def for_object(*, grant=None, identity=None, client=None, limit: int = 5) -> list[Revocation]:
    """The latest revocations acting on one grant, identity or client (its page lists them)."""
    condition = Q(pk__in=[])
    if grant is not None:
        condition |= Q(grant=grant) | Q(grant_ids__contains=[grant.pk])
    if identity is not None:
        condition |= Q(identity=identity)
    if client is not None:
        condition |= Q(client=client)
    return list(Revocation.objects.filter(condition).order_by("-queued_at", "-id")[:limit])


def undoable(revocation: Revocation) -> bool:
    """A finished kill switch that nobody undid yet: the IdPs can reactivate the app and its
    Cross App Access connections, and the inventory block can be lifted. A revoked grant, token
    or session cannot be given back, so the other actions have no undo."""
    return (
        revocation.action == Revocation.Action.CLIENT
        and not revocation.is_open
        and revocation.outcome in (Revocation.Outcome.DONE, Revocation.Outcome.PARTIAL)
        and not revocation.undone_by.exists()
    )
