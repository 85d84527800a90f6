"""Governance -> Identity providers: the connections, their tests and their syncs.

Viewers and up read; Admins add, edit, test, rotate, enable/disable and start syncs (POSTs with
CSRF, each recorded by the service). htmx gets fragments (a test's result, a sync's live
progress); every URL also works without JavaScript.
"""

from __future__ import annotations

from datetime import UTC

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from governance.access.htmx import render_fragment_or_page, wants_fragment
from governance.access.roles import ADMIN, VIEWER, role_required
from governance.idp import connections, kinds, queries
from governance.idp.forms import ConnectionForm, KindForm, RotateForm, initial_for
from governance.idp.models import IdpConnection, IdpSync
from governance.idp.sync import ConnectionDisabled, start_sync
from inventory.models import AuthorizationServer

RECENT_SYNCS = 10


@role_required(VIEWER)
def connection_list(request):
    """Every connection with its issuers, last test and last sync."""
    return render(
        request,
        "governance/idp/connection_list.html",
        {"connections": queries.connections_with_last_sync(), "kinds": kinds.KINDS.values()},
    )


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def connection_create(request):
    """Add a connection: pick a kind (GET ?kind=), then fill in that kind's settings."""
    initial = _prefill(request)
    kind = request.POST.get("kind") or request.GET.get("kind") or initial.get("kind")
    if kind not in kinds.KINDS:
        return render(
            request,
            "governance/idp/connection_form.html",
            {"kind_form": KindForm(), "kinds": kinds.KINDS.values()},
        )
    form = ConnectionForm(
        request.POST if request.method == "POST" else None,
        kind=kind,
        with_secret=True,
        initial=initial.get("form", {}),
    )
    if request.method == "POST" and form.is_valid():
        try:
            connection = connections.add_connection(
                actor=request.user,
                kind=kind,
                name=form.cleaned_data["name"],
                config=form.config(),
                secret=form.cleaned_data["secret"],
                issuers=form.issuers(),
                sync_interval_minutes=form.cleaned_data["sync_interval_minutes"],
                request=request,
            )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            messages.success(request, f"Connection {connection.name} added. Test it next.")
            return redirect("governance:idp_connection_detail", pk=connection.pk)
    return _form_page(request, form, kind=kinds.KINDS[kind])


def _prefill(request) -> dict:
    """Initial values from an inventory authorization server (?authorization_server=<id>)."""
    raw = request.GET.get("authorization_server", "")
    if not raw.isdigit() or request.method != "GET":
        return {}
    auth = get_object_or_404(AuthorizationServer, pk=int(raw))
    found = connections.prefill_from_authorization_server(auth)
    form = {"name": found["name"], "issuers": "\n".join(found["issuers"])}
    form.update({f"config_{key}": value for key, value in found["config"].items()})
    return {"kind": found["kind"], "form": form, "auth": auth}


def _form_page(request, form, *, kind, connection=None):
    return render(
        request,
        "governance/idp/connection_form.html",
        {"form": form, "kind": kind, "connection": connection},
        status=400 if form.errors else 200,
    )


@role_required(VIEWER)
def connection_detail(request, pk: int):
    """One connection: settings, issuers, credential date, last test, syncs (live while open)."""
    connection = get_object_or_404(IdpConnection, pk=pk)
    return render(request, "governance/idp/connection_detail.html", _detail(connection))


def _detail(connection, **extra) -> dict:
    syncs = list(connection.syncs.all()[:RECENT_SYNCS])
    since = queries.events_since()
    return {
        "connection": connection,
        "kind": kinds.KINDS[connection.kind],
        "settings": [
            (kinds.KINDS[connection.kind].field(key), key, value)
            for key, value in connection.config.items()
        ],
        "issuers": queries.issuer_counts(connection, since=since),
        # Naive UTC, as the explorer's datetime-local field shows and reads it.
        "events_since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
        "event_days": queries.EVENT_DAYS,
        "syncs": syncs,
        "open_sync": next((s for s in syncs if s.is_open), None),
        "rotate_form": extra.pop("rotate_form", None) or RotateForm(kind=connection.kind),
        **extra,
    }


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def connection_update(request, pk: int):
    """Edit a connection's name, settings, issuers and sync interval (not its kind)."""
    connection = get_object_or_404(IdpConnection, pk=pk)
    form = ConnectionForm(
        request.POST if request.method == "POST" else None,
        kind=connection.kind,
        with_secret=False,
        initial=initial_for(connection),
    )
    if request.method == "POST" and form.is_valid():
        try:
            connections.update_connection(
                actor=request.user,
                connection=connection,
                name=form.cleaned_data["name"],
                config=form.config(),
                issuers=form.issuers(),
                sync_interval_minutes=form.cleaned_data["sync_interval_minutes"],
                request=request,
            )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            messages.success(request, f"Connection {connection.name} saved.")
            return redirect("governance:idp_connection_detail", pk=connection.pk)
    return _form_page(request, form, kind=kinds.KINDS[connection.kind], connection=connection)


@role_required(ADMIN)
@require_POST
def connection_test(request, pk: int):
    """Test the connection now: one line per capability (the fragment to htmx)."""
    connection = get_object_or_404(IdpConnection, pk=pk)
    connections.test_connection(actor=request.user, connection=connection, request=request)
    connection.refresh_from_db()
    if wants_fragment(request):
        return render(request, "governance/idp/_test_result.html", {"connection": connection})
    return redirect("governance:idp_connection_detail", pk=connection.pk)


@role_required(ADMIN)
@require_POST
def connection_rotate(request, pk: int):
    """Replace the credential; the new one is never shown, only the date it was set."""
    connection = get_object_or_404(IdpConnection, pk=pk)
    form = RotateForm(request.POST, kind=connection.kind)
    if form.is_valid():
        try:
            connections.rotate_secret(
                actor=request.user,
                connection=connection,
                secret=form.cleaned_data["secret"],
                request=request,
            )
        except ValidationError as exc:
            for message in exc.message_dict.get("secret", exc.messages):
                form.add_error("secret", message)
        else:
            messages.success(request, "Credential replaced. Test the connection to check it.")
            return redirect("governance:idp_connection_detail", pk=connection.pk)
    context = _detail(connection, rotate_form=form)
    return render(request, "governance/idp/connection_detail.html", context, status=400)


@role_required(ADMIN)
@require_POST
def connection_toggle(request, pk: int):
    """Enable or disable the connection (disabled ones are not synced)."""
    connection = get_object_or_404(IdpConnection, pk=pk)
    connection = connections.set_enabled(
        actor=request.user, connection=connection, enabled=not connection.enabled, request=request
    )
    state = "enabled" if connection.enabled else "disabled"
    messages.success(request, f"Connection {connection.name} {state}.")
    return redirect("governance:idp_connection_detail", pk=connection.pk)


@role_required(ADMIN)
@require_POST
def connection_sync(request, pk: int):
    """Start a sync now (`full=1`: ignore incremental state), or show the open one."""
    connection = get_object_or_404(IdpConnection, pk=pk)
    try:
        sync = start_sync(
            connection=connection,
            full=request.POST.get("full") == "1",
            actor=request.user,
            request=request,
        )
    except ConnectionDisabled as exc:
        messages.error(request, str(exc))
        return redirect("governance:idp_connection_detail", pk=connection.pk)
    url = reverse("governance:idp_sync_detail", args=[sync.pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@role_required(VIEWER)
def sync_detail(request, pk: int):
    """One sync with live progress (htmx polls the fragment every 2 s while it is open)."""
    sync = get_object_or_404(IdpSync.objects.select_related("connection"), pk=pk)
    return render_fragment_or_page(
        request,
        "governance/idp/sync_detail.html",
        "governance/idp/_sync_progress.html",
        {"sync": sync},
    )
