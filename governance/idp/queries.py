"""Reads for the connection pages and the API: connections with their last sync, sync lists,
what each issuer brought in, and which connection an issuer resolves to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone

from audit.queries import events_by_issuer
from governance.access.lists.filters import Filter, ListSpec, filtered
from governance.idp.models import IdpConnection, IdpIssuer, IdpSync
from inventory.models import Grant, Identity

EVENT_DAYS = 7

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


@dataclass(frozen=True)
class IssuerCounts:
    """What one issuer of a connection accounts for: ledger grants, identities, recent events."""

    issuer: str
    grants: int
    identities: int
    events: int


def events_since(now: datetime | None = None) -> datetime:
    """The start of the events window: EVENT_DAYS ago, on the hour, so the rollup's count and
    the explorer's `since` select the same events."""
    start = (now or timezone.now()) - timedelta(days=EVENT_DAYS)
    return start.replace(minute=0, second=0, microsecond=0)


def _counts_by_issuer(model, issuers: list[str]) -> dict[str, int]:
    rows = model.objects.filter(issuer__in=issuers).values("issuer").annotate(n=Count("id"))
    return dict(rows.values_list("issuer", "n"))


def issuer_counts(connection: IdpConnection, *, since: datetime) -> list[IssuerCounts]:
    """Per issuer of the connection: its grants, its identities and its audit events since
    `since` (from the hourly identity rollup: never a scan of the events). Four queries."""
    issuers = sorted(connection.issuers.values_list("issuer", flat=True))
    grants = _counts_by_issuer(Grant, issuers)
    identities = _counts_by_issuer(Identity, issuers)
    events = events_by_issuer(issuers, since)
    return [
        IssuerCounts(i, grants.get(i, 0), identities.get(i, 0), events.get(i, 0)) for i in issuers
    ]


def connection_for_issuer(issuer: str) -> IdpConnection | None:
    """The connection that answers for `issuer` (issuers are unique), or None."""
    return IdpConnection.objects.filter(issuers__issuer=issuer).only("id", "name").first()
