"""Admin writes for the protocol flags: origins a server may send users to by URL elicitation,
and the minimum MCP revision sessions may negotiate (inventory/services/protocol_settings.py).
Plain forms: POST, then back to the page the form is on."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from governance.access.roles import ADMIN, role_required
from inventory.models import ElicitationOriginAllowance, Server
from inventory.services import protocol_settings


def _problem(exc: ValidationError) -> str:
    return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())


@require_POST
@role_required(ADMIN)
def elicitation_origin_add(request, pk: int):
    """Allow an origin for the server's URL elicitations."""
    server = get_object_or_404(Server, pk=pk)
    try:
        allowance = protocol_settings.allow_elicitation_origin(
            server, request.POST.get("origin", ""), actor=request.user, request=request
        )
    except ValidationError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(request, f"{server} may now send users to {allowance.origin}.")
    return redirect(f"{server_url(server)}#protocol")


@require_POST
@role_required(ADMIN)
def elicitation_origin_remove(request, pk: int):
    """Stop allowing an origin for a server's URL elicitations."""
    allowance = get_object_or_404(
        ElicitationOriginAllowance.objects.select_related("server"), pk=pk
    )
    server = allowance.server
    protocol_settings.remove_elicitation_origin(allowance, actor=request.user, request=request)
    messages.success(request, f"{allowance.origin} is no longer allowed for {server}.")
    return redirect(f"{server_url(server)}#protocol")


@require_POST
@role_required(ADMIN)
def minimum_revision_set(request):
    """Set (or clear) the minimum MCP revision; sessions below it are flagged from now on."""
    try:
        revision = protocol_settings.set_minimum_revision(
            request.POST.get("revision", ""), actor=request.user, request=request
        )
    except ValidationError as exc:
        messages.error(request, _problem(exc))
    else:
        messages.success(
            request,
            f"Sessions below MCP {revision} will be flagged."
            if revision
            else "Sessions are no longer flagged for their revision.",
        )
    return redirect(reverse("governance:overview") + "#protocol-versions")


def server_url(server: Server) -> str:
    return reverse("inventory:server_detail", args=[server.pk])
