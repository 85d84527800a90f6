"""Reads the revocation pages and the API add to queries.py's: the list's declaration with the
id filters an object's page links to (`?grant=`, `?identity=`, `?client=`), the list rows with
the counts the table shows, the tasks a revocation orphaned and the "used after revocation"
flags raised against it. (queries.py holds the rest: steps, undoable, revocations touching an
object, what a block leaves active.)"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Count, Q, QuerySet

from governance.access.lists.filters import Filter, ListSpec, filtered
from governance.containment import queries
from governance.containment.models import Revocation, RevocationStep
from inventory.models import Flag, Task

# queries.REVOCATION_SPEC plus the ids an object's page filters by ("all →" from a grant,
# identity or client page): one declaration for the page, the API and the OpenAPI parameters.
REVOCATION_SPEC = ListSpec(
    search=queries.REVOCATION_SPEC.search,
    filters=(
        *queries.REVOCATION_SPEC.filters,
        Filter("grant", "grant_id", kind="id", label="Grant"),
        Filter("identity", "identity_id", kind="id", label="Identity"),
        Filter("client", "client_id", kind="id", label="Client"),
    ),
    sorts=queries.REVOCATION_SPEC.sorts,
    default_sort=queries.REVOCATION_SPEC.default_sort,
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
