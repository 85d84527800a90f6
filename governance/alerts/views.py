"""Governance -> Alert destinations: where findings and audit events go (issue 14 §4-5).

Auditors and Admins read (the list with each destination's last test, pending and dead
deliveries and forwarding lag; a destination's page; the dead letters). Admins add, edit,
delete, send a test and replay dead letters: POSTs with CSRF, each recorded by the service.
"Send test" answers htmx with the result fragment; every URL also works without JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from governance.access.htmx import wants_fragment
from governance.access.lists.filters import InvalidFilter
from governance.access.roles import ADMIN, AUDITOR, role_required
from governance.alerts import delivery, queries, services
from governance.alerts.forms import DestinationForm, KindForm, initial_for
from governance.alerts.models import Destination


@role_required(AUDITOR)
def destination_list(request):
    """Every destination (filtered: DESTINATION_SPEC) with its last test, delivery counts and
    lag; a bad filter is a 400 naming it."""
    try:
        rows = list(queries.destination_rows(request.GET))
    except InvalidFilter as exc:
        messages.error(request, str(exc))
        rows, status = [], 400
    else:
        status = 200
    for row in rows:
        row.lag = queries.forwarding_lag(row)
    return render(
        request,
        "governance/alerts/destination_list.html",
        {
            "destinations": rows,
            "kind": request.GET.get("kind", ""),
            "q": request.GET.get("q", ""),
            "kinds": Destination.Kind.choices,
            "filtered": bool(request.GET.get("kind") or request.GET.get("q")),
        },
        status=status,
    )


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def destination_create(request):
    """Add a destination: pick a kind (GET ?kind=), then fill in its settings."""
    kind = request.POST.get("kind") or request.GET.get("kind")
    if kind not in Destination.Kind.values:
        return render(request, "governance/alerts/destination_form.html", {"kind_form": KindForm()})
    form = DestinationForm(request.POST or None, kind=kind, creating=True)
    if request.method == "POST" and form.is_valid():
        try:
            destination = services.create_destination(
                actor=request.user,
                kind=kind,
                values=form.values(),
                secret=form.cleaned_data.get("secret", ""),
                request=request,
            )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            messages.success(request, f"Destination {destination.name} added. Send a test next.")
            return redirect("alerts:destination_detail", pk=destination.pk)
    return _form_page(request, form, kind=kind)


def _form_page(request, form, *, kind, destination=None):
    return render(
        request,
        "governance/alerts/destination_form.html",
        {
            "form": form,
            "kind": kind,
            "kind_label": Destination.Kind(kind).label,
            "destination": destination,
        },
        status=400 if form.errors else 200,
    )


@role_required(AUDITOR)
def destination_detail(request, pk: int):
    """One destination: its settings (the secret only as "set"), last test, recent deliveries."""
    destination = get_object_or_404(Destination, pk=pk)
    return render(
        request,
        "governance/alerts/destination_detail.html",
        {
            "destination": destination,
            "lag": queries.forwarding_lag(destination),
            "deliveries": queries.recent_deliveries(destination),
        },
    )


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def destination_update(request, pk: int):
    """Edit a destination (not its kind); an empty secret keeps the stored one."""
    destination = get_object_or_404(Destination, pk=pk)
    form = DestinationForm(
        request.POST or None,
        kind=destination.kind,
        creating=False,
        initial=initial_for(destination),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_destination(
                actor=request.user,
                destination=destination,
                values=form.values(),
                secret=form.cleaned_data.get("secret", ""),
                request=request,
            )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            messages.success(request, f"Destination {destination.name} saved.")
            return redirect("alerts:destination_detail", pk=destination.pk)
    return _form_page(request, form, kind=destination.kind, destination=destination)


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def destination_delete(request, pk: int):
    """Confirm (GET), then delete with its pending and dead deliveries (POST)."""
    destination = get_object_or_404(Destination, pk=pk)
    if request.method == "POST":
        name = destination.name
        services.delete_destination(actor=request.user, destination=destination, request=request)
        messages.success(request, f"Destination {name} deleted.")
        return redirect("alerts:destination_list")
    counts = queries.destination_rows().get(pk=destination.pk)  # its pending and dead counts
    return render(
        request,
        "governance/alerts/destination_delete.html",
        {"destination": destination, "counts": counts},
    )


@role_required(ADMIN)
@require_POST
def destination_test(request, pk: int):
    """Send a test message now; the result (the fragment to htmx)."""
    destination = get_object_or_404(Destination, pk=pk)
    result = services.send_test(destination, request.user, request=request)
    if wants_fragment(request):
        return render(
            request,
            "governance/alerts/_test_result.html",
            {"destination": destination, "result": result},
        )
    if result.ok:
        messages.success(request, "Test message delivered.")
    else:
        messages.error(request, f"Test message not delivered: {result.detail}")
    return redirect("alerts:destination_detail", pk=destination.pk)


@role_required(AUDITOR)
def dead_letter_list(request):
    """Deliveries that ran out of attempts, newest first, to replay (Admins)."""
    raw = request.GET.get("destination", "")
    destination_id = int(raw) if raw.isdigit() else None
    return render(
        request,
        "governance/alerts/dead_letter_list.html",
        {
            "dead_letters": queries.dead_letters(destination_id=destination_id),
            "destinations": Destination.objects.order_by("name"),
            "destination_id": destination_id,
        },
    )


@role_required(ADMIN)
@require_POST
def dead_letter_replay(request):
    """Queue the chosen dead letters again, under their idempotency keys."""
    ids = [int(v) for v in request.POST.getlist("delivery") if v.isdigit()]
    if not ids:
        messages.error(request, "Choose the dead letters to replay.")
    else:
        count = delivery.replay(ids, request.user, request=request)
        messages.success(request, f"{count} dead letter{'s' if count != 1 else ''} queued again.")
    return redirect("alerts:dead_letter_list")
