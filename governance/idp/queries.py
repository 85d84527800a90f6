"""Reads for the connection pages and the API: connections with their last sync, sync lists."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery

from governance.access.lists.filters import Filter, ListSpec, filtered
from governance.idp.models import IdpConnection, IdpIssuer, IdpSync
from inventory.models import Grant

CONNECTION_SPEC = ListSpec(
    search=("name", "issuers__issuer"),
    filters=(
        Filter("kind", "kind", choices=tuple(IdpConnection.Kind.choices), label="Kind"),
        Filter("enabled", "enabled", kind="bool", label="Enabled"),
        Filter("is_demo", "is_demo", kind="bool", label="Demo"),
    ),
    sorts={"name": "name", "kind": "kind", "created": "created_at"},
    default_sort="name",
)

SYNC_SPEC = ListSpec(
    search=("connection__name",),
    filters=(
        Filter("connection", "connection_id", kind="id", label="Connection"),
        Filter("status", "status", choices=tuple(IdpSync.Status.choices), label="Status"),
        Filter("full", "full", kind="bool", label="Full"),
    ),
    sorts={"queued": "queued_at", "finished": "finished_at"},
    default_sort="-queued",
)


def connections_with_last_sync() -> QuerySet:
    """Connections, each with its issuers and its last sync's id, status, time and counts."""
    last = IdpSync.objects.filter(connection=OuterRef("pk")).order_by("-queued_at", "-id")
    return IdpConnection.objects.prefetch_related(
        Prefetch("issuers", queryset=IdpIssuer.objects.order_by("issuer"))
    ).annotate(
        last_sync_id=Subquery(last.values("pk")[:1]),
        last_sync_status=Subquery(last.values("status")[:1]),
        last_sync_at=Subquery(last.values("queued_at")[:1]),
        last_sync_seen=Subquery(last.values("seen")[:1]),
        last_sync_errors=Subquery(last.values("errors")[:1]),
    )


def connection_rows(params) -> QuerySet:
    """The API's connection list: CONNECTION_SPEC applied (search over issuers is distinct)."""
    rows = IdpConnection.objects.prefetch_related("issuers")
    return filtered(CONNECTION_SPEC, rows, params).distinct()


def sync_rows(params) -> QuerySet:
    """The API's sync list, newest first, SYNC_SPEC applied."""
    return filtered(SYNC_SPEC, IdpSync.objects.select_related("connection"), params)


def issuers_with_grant_counts(connection: IdpConnection) -> list[tuple[str, int]]:
    """(issuer, grants in the ledger from it) for each issuer of the connection, one query."""
    issuers = list(connection.issuers.values_list("issuer", flat=True))
    counts = dict(
        Grant.objects.filter(issuer__in=issuers)
        .values("issuer")
        .annotate(n=Count("id"))
        .values_list("issuer", "n")
    )
    return [(issuer, counts.get(issuer, 0)) for issuer in issuers]
