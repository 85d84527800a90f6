"""Discovery reads: the fetch log, crawl history and CIMD lists, each declared once as a
`ListSpec` so its page and its API take the same parameter names and refuse the same bad values
(a 400 on the API, a visible message on the page)."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Count, QuerySet

from governance.access.lists.filters import Filter, ListSpec, filtered
from inventory.models import (
    Client,
    ClientDocument,
    ClientDocumentState,
    Crawl,
    FetchRecord,
    Server,
    ServerChange,
    ServerVersion,
)

FETCH_SPEC = ListSpec(
    search=("url",),
    filters=(
        Filter("purpose", "purpose", kind="text"),
        Filter("ok", "ok", kind="bool", label="succeeded"),
        Filter("reason", "error_reason", kind="text", label="failure reason"),
    ),
    sorts={"at": "at", "purpose": "purpose", "elapsed_ms": "elapsed_ms"},
    default_sort="-at",
)
CRAWL_SPEC = ListSpec(
    search=("target",),
    filters=(
        Filter("kind", "kind", choices=tuple(Crawl.Kind.choices)),
        Filter("status", "status", choices=tuple(Crawl.Status.choices)),
        Filter("registry", "registry_id", kind="id"),
    ),
    sorts={"queued_at": "queued_at", "kind": "kind", "status": "status"},
    default_sort="-queued_at",
)
CIMD_CLIENT_SPEC = ListSpec(
    search=("client__client_id",),
    filters=(Filter("outcome", "outcome", choices=tuple(ClientDocumentState.Outcome.choices)),),
    sorts={"client_id": "client__client_id", "outcome": "outcome"},
    default_sort="client_id",
)
CLIENT_DOCUMENT_SPEC = ListSpec(
    search=("client__client_id",),
    filters=(Filter("client", "client_id", kind="id"),),
    sorts={"first_fetched_at": "first_fetched_at", "last_fetched_at": "last_fetched_at"},
    default_sort="-first_fetched_at",
)


def fetch_records(params: Mapping) -> QuerySet:
    """Outbound fetches, newest first unless sorted otherwise."""
    return filtered(FETCH_SPEC, FetchRecord.objects.all(), params)


def crawls(params: Mapping) -> QuerySet:
    """Crawl jobs with their registry, newest first."""
    return filtered(CRAWL_SPEC, Crawl.objects.select_related("registry"), params)


def cimd_clients(params: Mapping) -> QuerySet:
    """CIMD clients' crawl states with their current document and version count."""
    base = ClientDocumentState.objects.select_related("client", "current").annotate(
        versions=Count("client__cimd_documents", distinct=True)
    )
    return filtered(CIMD_CLIENT_SPEC, base, params)


def cimd_clients_awaiting_first_fetch() -> int:
    """Clients with an https client_id that no sweep has enrolled yet (no crawl state): the
    list above cannot show them, so the page counts them instead of saying there are none."""
    return Client.objects.filter(client_id__startswith="https://", cimd_state__isnull=True).count()


def client_documents(params: Mapping) -> QuerySet:
    """CIMD document versions with their client."""
    return filtered(CLIENT_DOCUMENT_SPEC, ClientDocument.objects.select_related("client"), params)


def server_registry_history(server: Server, *, limit: int = 50) -> dict:
    """What the registry-history fragment shows for one server (its view and template tag)."""
    # Each row lists its version's packages: one query for all of them, not one per version.
    # The table never shows a version's server.json, so its document is not read (the template
    # must not touch it: each row would then read it with a query of its own).
    versions = (
        ServerVersion.objects.filter(server=server)
        .select_related("registry")
        .defer("document")
        .prefetch_related("packages")
        .order_by("registry__name", "-published_at", "-id")[:limit]
    )
    changes = ServerChange.objects.filter(server=server).order_by("-observed_at", "-id")[:limit]
    return {"server": server, "versions": versions, "changes": changes}
