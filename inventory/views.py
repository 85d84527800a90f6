"""Inventory list pages. One template per page, which includes its `_table.html` partial; htmx
requests (filter form, sort and page links) get only the partial. Everything works without JS."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone

from governance.access.htmx import render_fragment_or_page, wants_fragment
from governance.access.lists.export import csv_stream
from governance.access.lists.filters import InvalidFilter, ListSpec, parse_id
from governance.access.roles import AUDITOR, VIEWER, role_required
from inventory import queries, queries_protocol
from inventory.models import Client, Grant, Identity, Server

PAGE_SIZE = 50


def _sentence_case(label: str) -> str:
    """The first letter up, the rest as written ("vanished at the IdP", not "...idp")."""
    return label[:1].upper() + label[1:]


def _controls(spec: ListSpec, params, options: dict | None = None, labels: dict | None = None):
    """The filter form's controls: a select for choices (and for the short lists of known values
    in `options`: (value, label) pairs), a yes/no select for flags, and a removable chip for an
    id filter set by a link (e.g. "this identity's grants") that has no select."""
    controls = []
    for flt in spec.filters:
        value = params.get(flt.param, "")
        choices = list(flt.choices) or list((options or {}).get(flt.param, []))
        if flt.kind == "bool":
            kind, choices = "select", [("true", "yes"), ("false", "no")]
        elif choices:
            kind = "select"
        elif flt.kind == "id":
            kind = "chip" if value else None
        else:
            kind = "text"
        if kind:
            without = params.copy()
            for param in (flt.param, "page"):
                without.pop(param, None)
            controls.append(
                {
                    "param": flt.param,
                    "kind": kind,
                    "value": value,
                    "choices": choices,
                    "label": _sentence_case(flt.label or flt.param.replace("_", " ")),
                    "chip": (labels or {}).get(flt.param, value),
                    "remove_url": "?" + without.urlencode(),
                }
            )
    return controls


def list_page(
    request, *, name: str, spec: ListSpec, rows, title: str, options=None, labels=None, params=None
):
    """Render one inventory list: search, filters, sort, pagination; 400 naming a bad parameter.

    `params` defaults to the query string; a page may add its own defaults to it. `options` and
    `labels` are functions returning the selects' known values and the id filters' names: they
    cost queries (a DISTINCT over grants, name lookups), and only the filter form shows them,
    which an htmx request (the table partial alone) never renders, so they are called for the
    full page only."""
    params = request.GET if params is None else params
    context = {"title": title, "name": name, "q": params.get("q", ""), "error": None, "page": None}
    status = 200
    try:
        queryset = rows(params)
        context["page"] = Paginator(queryset, PAGE_SIZE).get_page(params.get("page"))
    except InvalidFilter as exc:
        context["error"], status = str(exc), 400
    sort = params.get("sort") or spec.default_sort
    context["sort"] = sort if sort.lstrip("-") in spec.sorts else spec.default_sort
    if not wants_fragment(request):
        context["controls"] = _controls(
            spec, params, options() if options else None, labels() if labels else None
        )
    return render_fragment_or_page(
        request, f"inventory/{name}_list.html", f"inventory/_{name}_table.html", context, status
    )


def filtered_page(params, rows, *, size: int = PAGE_SIZE):
    """(page, error, status) for a list page built on a ListSpec query (`rows(params)`): a bad
    filter is not dropped silently but named, with the values it takes, and answered 400, as the
    API answers it. The page is None then (templates show the message instead of the table)."""
    try:
        return Paginator(rows(params), size).get_page(params.get("page")), None, 200
    except InvalidFilter as exc:
        return None, str(exc), 400


def query_without_page(params) -> str:
    """The query string of a list page minus `page`, for its pager links to append a page to."""
    query = params.copy()
    query.pop("page", None)
    return query.urlencode()


def _issuers(model) -> list[tuple[str, str]]:
    issuers = model.objects.order_by("issuer").values_list("issuer", flat=True).distinct()
    return [(issuer, issuer) for issuer in issuers]


def _named(queryset, label_field: str, limit: int = 200) -> list[tuple[str, str]]:
    """(id, name) pairs for a filter select; a select only makes sense for short lists."""
    rows = list(queryset.order_by(label_field, "id").values_list("id", label_field)[: limit + 1])
    return [] if len(rows) > limit else [(str(pk), name or f"#{pk}") for pk, name in rows]


def _id_labels(request, **querysets) -> dict:
    """Readable names for id filters set in the URL (?client=12 shows the client's name); each
    queryset reads what its objects' names need (a grant's name reads its client and subject)."""
    labels = {}
    for param, queryset in querysets.items():
        raw = request.GET.get(param, "").strip()
        if not raw:
            continue
        try:
            pk = parse_id(param, raw)
        except InvalidFilter:
            continue  # the list itself answers 400 naming the parameter
        obj = queryset.filter(pk=pk).first()
        labels[param] = str(obj) if obj else f"#{raw} (not found)"
    return labels


@role_required(VIEWER)
def identity_list(request):
    """Humans, services and agents, by issuer, kind and status."""
    return list_page(
        request,
        name="identity",
        spec=queries.IDENTITY_SPEC,
        rows=queries.identities,
        title="Identities",
        options=lambda: {"issuer": _issuers(Identity)},
    )


@role_required(VIEWER)
def client_list(request):
    """MCP clients, by registration kind and review status."""
    return list_page(
        request, name="client", spec=queries.CLIENT_SPEC, rows=queries.clients, title="Clients"
    )


@role_required(VIEWER)
def server_list(request):
    """MCP servers, by registry status and review status."""
    return list_page(
        request, name="server", spec=queries.SERVER_SPEC, rows=queries.servers, title="Servers"
    )


@role_required(VIEWER)
def grant_list(request):
    """Delegated grants, by status, type, issuer, client, subject and server."""
    return list_page(
        request,
        name="grant",
        spec=queries.GRANT_SPEC,
        rows=queries.grants,
        title="Grants",
        options=lambda: {
            "issuer": _issuers(Grant),
            "client": _named(Client.objects, "name"),
            "server": _named(Server.objects, "name"),
        },
        labels=lambda: _id_labels(
            request, client=Client.objects, subject=Identity.objects, server=Server.objects
        ),
    )


@role_required(AUDITOR)
def grant_export(request):
    """The grants list, with its filters, as CSV for a spreadsheet (Auditors and Admins: the
    whole ledger at once is not a Viewer's). A bad filter is a 400 naming it, as on the page."""
    try:
        rows = queries.grant_export_rows(request.GET)
    except InvalidFilter as exc:
        return HttpResponseBadRequest(f"Invalid filter — {exc}", content_type="text/plain")
    response = StreamingHttpResponse(
        csv_stream(queries.GRANT_EXPORT_COLUMNS, rows), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="grants-{stamp}.csv"'
    return response


@role_required(VIEWER)
def task_list(request):
    """MCP tasks, by status, server, client, flagged and running."""
    return list_page(
        request,
        name="task",
        spec=queries.TASK_SPEC,
        rows=queries.tasks,
        title="Tasks",
        options=lambda: {
            "server": _named(Server.objects, "name"),
            "client": _named(Client.objects, "name"),
        },
        labels=lambda: _id_labels(
            request,
            server=Server.objects,
            client=Client.objects,
            identity=Identity.objects,
            grant=Grant.objects.select_related("client", "subject"),
        ),
    )


@role_required(VIEWER)
def flag_list(request):
    """Flags raised on inventory objects; open ones unless asked otherwise."""
    params = request.GET.copy()
    params.setdefault("open", "true")
    return list_page(
        request,
        name="flag",
        spec=queries.FLAG_SPEC,
        rows=queries.flags,
        title="Flags",
        params=params,
    )


@role_required(VIEWER)
def elicitation_list(request):
    """URL-mode elicitations with their origins (the rest of each URL is never stored)."""
    return list_page(
        request,
        name="elicitation",
        spec=queries_protocol.ELICITATION_SPEC,
        rows=queries_protocol.url_elicitations,
        title="URL elicitations",
        options=lambda: {
            "server": _named(
                Server.objects.filter(url_elicitations__isnull=False).distinct(), "name"
            ),
            "client": _named(
                Client.objects.filter(url_elicitations__isnull=False).distinct(), "name"
            ),
        },
        labels=lambda: _id_labels(request, server=Server.objects, client=Client.objects),
    )
