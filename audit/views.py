"""Audit pages: the explorer, event detail, exports, chain verification and event sources."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponseBadRequest, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from audit import queries_activity, queries_explorer
from audit.models import AuditEvent, ChainHead, ChainVerification, EventSource
from audit.otlp_attributes import FIELDS, MappingError, mapping_text, parse_mapping_text
from audit.services import sources as source_services
from audit.tasks import verify_audit_chain
from governance.access import charts
from governance.access.htmx import render_fragment_or_page, wants_fragment
from governance.access.roles import ADMIN, AUDITOR, VIEWER, has_role, role_required
from inventory import queries_names
from inventory.models import Identity

# The identity page's "recent activity": its last day, newest first.
IDENTITY_ACTIVITY_WINDOW = timedelta(hours=24)
IDENTITY_ACTIVITY_ROWS = 10


def _filters(request):
    try:
        return queries_explorer.EventFilter.from_params(request.GET), ""
    except queries_explorer.FilterError as exc:
        return queries_explorer.EventFilter(), str(exc)


def _without_time(params):
    """The filters without their time bounds, cursor or empty fields (a submitted form sends
    every field)."""
    query = params.copy()
    for param in ("since", "until", "cursor", "range"):
        query.pop(param, None)
    for param in [p for p, values in query.lists() if not any(values)]:
        query.pop(param)
    return query


def _quick_ranges(params) -> tuple[list[dict], str]:
    """Links for 1 h, 24 h, 7 d, 30 d and all time: the current filters with that range instead
    of their time bounds."""
    links = []
    for key in queries_explorer.QUICK_RANGES:
        query = _without_time(params)
        query["range"] = key
        links.append({"key": key, "query": query.urlencode(), "active": params.get("range") == key})
    return links, _without_time(params).urlencode()


NAMED_FILTERS = (
    ("identity", "Identity", "e-mail, name or subject"),
    ("client", "Client", "name or client_id"),
    ("server", "Server", "name or title"),
)


def _named_filters(params, resolved: dict) -> list[dict]:
    """The identity, client and server inputs: typed names resolve through the inventory, and
    each offers suggestions from it as the user types (an htmx-fed <datalist>)."""
    return [
        {
            "name": name,
            "label": label,
            "placeholder": placeholder,
            "value": params.get(name, ""),
            "suggest_url": reverse("audit:event_suggest", args=[name]),
            "resolved": resolved.get(name),
        }
        for name, label, placeholder in NAMED_FILTERS
    ]


@role_required(VIEWER)
def explorer_view(request):
    """Filter, page through and export audit events; the chart and top tools follow the filters."""
    event_filter, error = _filters(request)
    rows, next_cursor = [], None
    if not error:
        try:
            rows, next_cursor = queries_explorer.events_page(
                event_filter, cursor=request.GET.get("cursor")
            )
        except queries_explorer.FilterError as exc:
            error = str(exc)
    params = request.GET.copy()
    params.pop("cursor", None)
    context = {
        "rows": queries_activity.with_names(rows),
        "next_cursor": next_cursor,
        "error": error,
        "query": params.urlencode(),
        "params": request.GET,
    }
    if request.GET.get("cursor") and wants_fragment(request):  # "more": a later page's rows
        return render_fragment_or_page(
            request, "audit/explorer.html", "audit/_events.html", context
        )
    activity = None if error else queries_activity.activity(event_filter)
    context.update(
        sources=EventSource.objects.only("id", "name"),
        verification=ChainVerification.objects.first(),
        head=ChainHead.objects.filter(pk=1).first(),
        activity=activity,
        chart=charts.events_chart(activity["per_hour"])
        if activity and activity["per_hour"]
        else "",
        named_filters=_named_filters(request.GET, event_filter.resolved),
    )
    context["quick_ranges"], context["all_time_query"] = _quick_ranges(request.GET)
    response = render(request, "audit/explorer.html", context, status=400 if error else 200)
    patch_vary_headers(response, ("HX-Request",))  # a cursor URL answers htmx with rows only
    return response


@role_required(VIEWER)
def explorer_suggest(request, kind: str):
    """The <option>s of a filter's datalist for what has been typed (htmx, as the user types)."""
    if kind not in queries_explorer.NAMED:
        raise Http404("Suggestions are for identity, client and server")
    options = queries_names.suggestions(kind, request.GET.get(kind, ""))
    return render(request, "audit/_suggestions.html", {"options": options})


@role_required(VIEWER)
def identity_activity(request, pk: int):
    """An identity's events of the last 24 hours, with names: a fragment of its page (htmx)."""
    identity = get_object_or_404(Identity, pk=pk)
    since = timezone.now() - IDENTITY_ACTIVITY_WINDOW
    rows, totals = queries_activity.identity_activity(
        identity, since=since, limit=IDENTITY_ACTIVITY_ROWS
    )
    explorer_query = QueryDict(mutable=True)
    explorer_query.update({"issuer": identity.issuer, "identity": identity.subject, "range": "24h"})
    return render(
        request,
        "audit/_identity_activity.html",
        {
            "identity": identity,
            "rows": queries_activity.with_names(rows),
            "totals": totals,
            "explorer_query": explorer_query.urlencode(),
        },
    )


@role_required(VIEWER)
def event_detail(request, pk: int):
    """One event; its stored payload only for Auditors and Admins."""
    rows = AuditEvent.objects.filter(pk=pk)
    if request.GET.get("at"):  # the event's time lets the primary key (time, id) find it
        try:
            rows = rows.filter(time=queries_explorer._parse_time("at", request.GET["at"]))
        except queries_explorer.FilterError:
            raise Http404("No such event") from None
    event = rows.defer("payload").first()
    if event is None:
        raise Http404("No such event")
    payload = None
    if has_role(request.user, AUDITOR):
        payload = rows.values_list("payload", flat=True).first()
    source = EventSource.objects.filter(pk=event.source_id).first()
    return render(
        request, "audit/event_detail.html", {"event": event, "payload": payload, "source": source}
    )


@role_required(AUDITOR)
def export(request, fmt: str):
    """The filtered events as streamed CSV or NDJSON (with payloads): Auditors and Admins, as
    the README's role table says (bulk event data is not a Viewer's)."""
    event_filter, error = _filters(request)
    if error:
        return HttpResponseBadRequest(error)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    if fmt == "csv":
        response = StreamingHttpResponse(
            queries_explorer.export_csv(event_filter), content_type="text/csv; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(
            queries_explorer.export_ndjson(event_filter, with_payload=True),
            content_type="application/x-ndjson",
        )
    response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.{fmt}"'
    return response


@require_POST
@role_required(AUDITOR)
def verify_now(request):
    """Queue a full chain verification; the result appears on the audit page."""
    transaction.on_commit(lambda: verify_audit_chain.delay())
    messages.info(request, "Chain verification queued; reload the page to see its result.")
    return redirect("audit:event_list")


class SourceForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=EventSource.Kind.choices)
    retention_days = forms.IntegerField(min_value=1, max_value=3650, initial=90)
    rate_limit_per_minute = forms.IntegerField(
        min_value=0, max_value=10_000_000, initial=0, help_text="0 = the site default"
    )


class SourceSettingsForm(forms.Form):
    retention_days = forms.IntegerField(min_value=1, max_value=3650)
    rate_limit_per_minute = forms.IntegerField(min_value=0, max_value=10_000_000)


def _token_page(request, source, token):
    """The one time a token is shown: never cached by the browser or a proxy."""
    response = render(request, "audit/source_token.html", {"source": source, "token": token})
    response["Cache-Control"] = "no-store"
    return response


@role_required(ADMIN)
def source_list(request):
    """Event sources; Admins register, rotate, disable and tune them here."""
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source, token = source_services.create_source(
                actor=request.user, request=request, **form.cleaned_data
            )
        except IntegrityError:
            form.add_error("name", "A source with this name already exists.")
        else:
            return _token_page(request, source, token)
    return render(
        request,
        "audit/source_list.html",
        {"sources": EventSource.objects.all(), "form": form},
        status=400 if form.errors else 200,
    )


class AttributeMapForm(forms.Form):
    mapping = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 70}),
        required=False,
        max_length=20_000,
        label="OTLP attribute mapping",
        help_text="One line per canonical field: client.id = gw.app_id, x.client",
    )


@role_required(ADMIN)
def source_detail(request, pk: int):
    """One source, and the OTLP attribute names it maps to canonical fields (Admins edit)."""
    source = get_object_or_404(EventSource, pk=pk)
    form = AttributeMapForm(
        request.POST or None, initial={"mapping": mapping_text(source.otlp_attribute_map)}
    )
    if request.method == "POST" and form.is_valid():
        try:
            source_services.set_attribute_map(
                source=source,
                mapping=parse_mapping_text(form.cleaned_data["mapping"]),
                actor=request.user,
                request=request,
            )
        except MappingError as exc:
            form.add_error("mapping", f"{exc.field}: {exc.message}")
        else:
            messages.success(request, f"Attribute mapping of {source.name} saved.")
            return redirect("audit:source_detail", pk=source.pk)
    return render(
        request,
        "audit/source_detail.html",
        {"source": source, "form": form, "fields": FIELDS},
        status=400 if form.errors else 200,
    )


@require_POST
@role_required(ADMIN)
def source_action(request, pk: int, action: str):
    """Rotate the token, enable/disable, or change retention and rate limit."""
    source = get_object_or_404(EventSource, pk=pk)
    if action == "rotate":
        token = source_services.rotate_source_token(
            source=source, actor=request.user, request=request
        )
        return _token_page(request, source, token)
    if action in ("enable", "disable"):
        source_services.set_source_enabled(
            source=source, enabled=action == "enable", actor=request.user, request=request
        )
        messages.success(request, f"Source {source.name} {action}d.")
    elif action == "settings":
        form = SourceSettingsForm(request.POST)
        if not form.is_valid():
            messages.error(request, "; ".join(f"{f}: {e[0]}" for f, e in form.errors.items()))
            return redirect("audit:source_list")
        source_services.update_source_settings(
            source=source, actor=request.user, request=request, **form.cleaned_data
        )
        messages.success(request, f"Source {source.name} updated.")
    else:
        raise Http404("Unknown action")
    return redirect("audit:source_list")
