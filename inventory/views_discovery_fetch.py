"""Pages for what the fetchers found: the fetch log, CIMD document versions and diffs, and the
authorization servers guarding MCP servers. Viewers see; Admins add client URLs and re-fetch.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from governance.access.htmx import render_fragment_or_page
from governance.access.lists.filters import id_or_none
from governance.access.roles import ADMIN, VIEWER, role_required
from inventory import cimd_checks, queries, queries_discovery
from inventory.models import (
    AuthorizationServer,
    Client,
    ClientDocument,
    ClientDocumentState,
    FetchRecord,
    ProtectedResource,
    ServerRemote,
)
from inventory.services import cimd as cimd_service
from inventory.services import crawls, oauth_metadata
from inventory.views import filtered_page, query_without_page
from inventory.views_discovery import crawl_started

PAGE_SIZE = 50


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _with_open_flag_counts(page, object_type: str, key: str):
    """Set `open_flags` on each row of one page (queries.open_flag_counts, for the page's objects
    only). `key` names the row's attribute holding the object id."""
    counts = queries.open_flag_counts(object_type, [getattr(row, key) for row in page or ()])
    for row in page or ():
        row.open_flags = counts.get(str(getattr(row, key)), 0)
    return page


@role_required(VIEWER)
def fetch_log(request):
    """Every outbound fetch, newest first, filterable by purpose, ok, reason and URL (`q`)."""
    params = request.GET.copy()
    if "outcome" in params:  # deprecated spelling (bookmarks): the page and API take ok=
        params.setlist(
            "ok",
            [{"ok": "true", "error": "false"}.get(value, value) for value in params.pop("outcome")],
        )
    page, error, status = filtered_page(params, queries_discovery.fetch_records, size=PAGE_SIZE)
    context = {
        "page": page,
        "error": error,
        "filters": params,
        "query": query_without_page(params),
        "purposes": FetchRecord.objects.values_list("purpose", flat=True)
        .order_by("purpose")
        .distinct(),
        "reasons": FetchRecord.objects.exclude(error_reason="")
        .values_list("error_reason", flat=True)
        .order_by("error_reason")
        .distinct(),
    }
    return render_fragment_or_page(
        request, "inventory/fetch_log.html", "inventory/_fetch_log_table.html", context, status
    )


@role_required(VIEWER)
def cimd_client_list(request, *, form_errors=None, status=200):
    """CIMD clients with their crawl state; Admins get the add-a-URL form."""
    page, error, list_status = filtered_page(
        request.GET, queries_discovery.cimd_clients, size=PAGE_SIZE
    )
    return render(
        request,
        "inventory/cimd_client_list.html",
        {
            "page": _with_open_flag_counts(page, "inventory.client", "client_id"),
            "error": error,
            "outcome": request.GET.get("outcome", ""),
            "query": query_without_page(request.GET),
            "outcomes": ClientDocumentState.Outcome.choices,
            "awaiting": queries_discovery.cimd_clients_awaiting_first_fetch(),
            "q": request.GET.get("q", ""),
            "form_errors": form_errors or [],
            "form_url": request.POST.get("url", ""),
        },
        status=max(status, list_status),
    )


def _refresh_now(request, client: Client) -> None:
    """Fetch inline (bounded by DISCOVERY_FETCH_TIMEOUT) and tell the admin how it went."""
    outcome = cimd_service.refresh_client_document(client)
    text = f"{client.client_id}: {outcome.outcome}"
    if outcome.error:
        text += f" — {outcome.error}"
    elif outcome.version is not None:
        text += " (new version)" if outcome.changed else " (unchanged)"
    (messages.success if outcome.outcome == "ok" else messages.warning)(request, text)


@role_required(ADMIN)
@require_POST
def cimd_client_add(request):
    """An Admin adds a client_id URL by hand; it is fetched at once."""
    try:
        client = cimd_service.add_client_url(
            url=request.POST.get("url", ""), actor=request.user, request=request
        )
    except ValidationError as exc:
        errors = [f"url: {m}" for m in exc.message_dict.get("url", exc.messages)]
        return cimd_client_list(request, form_errors=errors, status=400)
    _refresh_now(request, client)
    return redirect("inventory:client_document_detail", pk=client.pk)


@role_required(ADMIN)
@require_POST
def cimd_sweep_start(request):
    """An Admin starts the sweep of every due CIMD document now, as a crawl job (recorded)."""
    return crawl_started(
        request,
        crawls.start_crawl(
            kind="cimd", target=crawls.CIMD_SWEEP_TARGET, actor=request.user, request=request
        ),
    )


@role_required(ADMIN)
@require_POST
def oauth_crawl_start(request):
    """An Admin starts OAuth metadata discovery of every server remote, as a crawl job."""
    return crawl_started(
        request,
        crawls.start_crawl(
            kind="oauth_metadata",
            target=oauth_metadata.ALL_REMOTES_TARGET,
            actor=request.user,
            request=request,
        ),
    )


@role_required(ADMIN)
@require_POST
def cimd_client_refetch(request, pk: int):
    """An Admin re-fetches one client's document now (recorded)."""
    client = get_object_or_404(Client, pk=pk)
    cimd_service.request_refetch(client=client, actor=request.user, request=request)
    _refresh_now(request, client)
    return redirect("inventory:client_document_detail", pk=client.pk)


@role_required(VIEWER)
def cimd_client_detail(request, pk: int):
    """One CIMD client: crawl state, current document, version history, flags, recent fetches."""
    client = get_object_or_404(Client, pk=pk)
    state = ClientDocumentState.objects.filter(client=client).select_related("current").first()
    # The table shows no bodies: leave each version's document out (the current one is loaded
    # whole through the state).
    versions = list(
        ClientDocument.objects.filter(client=client)
        .defer("raw", "content")
        .order_by("-first_fetched_at", "-id")
    )
    for newer, older in zip(versions, versions[1:]):
        newer.previous_pk = older.pk
    current = state.current if state else None
    return render(
        request,
        "inventory/cimd_client_detail.html",
        {
            "client": client,
            "state": state,
            "versions": versions,
            "current": current,
            "current_pretty": cimd_checks.pretty(current.content)
            if current and current.content is not None
            else (current.raw if current else ""),
            "flags": queries.flags_for(client)[:50],
            "fetches": FetchRecord.objects.filter(url=client.client_id)[:20],
        },
    )


@role_required(VIEWER)
def cimd_client_panel(request, pk: int):
    """Fragment for other client pages: CIMD state, version count and open flags."""
    client = get_object_or_404(Client, pk=pk)
    state = ClientDocumentState.objects.filter(client=client).first()
    return render(
        request,
        "inventory/_cimd_client_panel.html",
        {
            "client": client,
            "state": state,
            "versions": client.cimd_documents.count(),
            "flags": queries.flags_for(client).open().filter(kind__startswith="cimd.")[:20],
        },
    )


@role_required(VIEWER)
def cimd_document_diff(request, pk: int):
    """What changed from the previous version (or ?against=<version id>) to this one."""
    version = get_object_or_404(ClientDocument.objects.select_related("client"), pk=pk)
    # Through parse_id: int() of 4300+ digits raises ValueError (was a 500).
    against = id_or_none(request.GET.get("against", ""))
    if against is not None:
        older = get_object_or_404(ClientDocument, pk=against, client=version.client)
    else:
        older = version.previous()
    old_content = older.content if older else None
    changes = cimd_checks.diff_documents(old_content, version.content)
    return render(
        request,
        "inventory/cimd_diff.html",
        {
            "client": version.client,
            "version": version,
            "older": older,
            "changes": changes,
            "risky": cimd_checks.risky_changes(
                old_content, version.content, version.client.client_id
            )
            if older
            else [],
            "diff_lines": _diff_lines(
                cimd_checks.unified_diff(
                    old_content,
                    version.content,
                    old_label=f"version {older.sha256[:12]}" if older else "(none)",
                    new_label=f"version {version.sha256[:12]}",
                )
            ),
        },
    )


def _diff_lines(text: str) -> list[tuple[str, str]]:
    """Unified-diff lines with a CSS class each (add / del / hunk / ctx)."""
    out = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = "ctx"
        out.append((kind, line))
    return out


@role_required(VIEWER)
def authserver_list(request):
    """Authorization servers found through servers' OAuth metadata, with their hygiene."""
    servers = queries.authorization_servers()
    if request.GET.get("q"):
        servers = servers.filter(issuer__icontains=request.GET["q"].strip())
    page = _with_open_flag_counts(_page(request, servers), "inventory.authorizationserver", "pk")
    resources = (
        ProtectedResource.objects.select_related("remote__server")
        .prefetch_related("authorization_servers")
        .order_by("-fetched_at")[:200]
    )
    remotes_without = (
        ServerRemote.objects.exclude(transport=ServerRemote.Transport.STDIO)
        .filter(protected_resource__isnull=True)
        .select_related("server")[:200]
    )
    return render(
        request,
        "inventory/authserver_list.html",
        {
            "page": page,
            "resources": resources,
            "remotes_without": remotes_without,
            "q": request.GET.get("q", ""),
        },
    )


@role_required(VIEWER)
def authserver_detail(request, pk: int):
    """One authorization server: endpoints, capabilities, problems, the servers it guards."""
    server = get_object_or_404(AuthorizationServer, pk=pk)
    return render(
        request,
        "inventory/authserver_detail.html",
        {
            "auth": server,
            "guarded": queries.servers_guarded_by(server),
            "resources": server.protected_resources.select_related("remote__server"),
            "flags": queries.flags_for(server)[:50],
            "metadata_pretty": cimd_checks.pretty(server.metadata),
        },
    )


@role_required(ADMIN)
@require_POST
def oauth_discover(request, pk: int):
    """An Admin runs OAuth metadata discovery for one server remote now (recorded)."""
    remote = get_object_or_404(ServerRemote.objects.select_related("server"), pk=pk)
    prm = oauth_metadata.rediscover_remote(remote, actor=request.user, request=request)
    if prm.fetch_ok:
        messages.success(request, f"{remote.url}: metadata found via {prm.discovered_via}")
    else:
        messages.warning(request, f"{remote.url}: no protected resource metadata found")
    return redirect(reverse("inventory:authorization_server_list"))
